#!/usr/bin/env bash
# Writes an example shared folder, as the lab's would look before a night:
#   make_example.sh DIR MODELS_DIR
# MODELS_DIR holds the tiny models of scripts/make_tiny_models.py. The folder is
# made by `runvqgan init` (the binary in $RUNVQGAN, default target/release/runvqgan),
# then given the tiny models, two members' personal folders and a few tasks, one of
# them deliberately invalid (a misspelt field).
set -euo pipefail
dir=$1
models=$2
"${RUNVQGAN:-target/release/runvqgan}" init "$dir" > /dev/null
mkdir -p "$dir/alice" "$dir/bob"

cat >> "$dir/runvqgan.toml" <<TOML

# The example's own settings: the tiny random models, small images.
default_resolution = [96, 64]

[models.default]
vqgan_config = "$models/vqgan.yaml"
vqgan_checkpoint = "$models/vqgan.ckpt"
clip_model = "$models/clip.pt"
TOML

cat > "$dir/tasks/lighthouse.txt" <<'JSON'
{
  "text": ["A painting of a lighthouse in a storm"],
  "iterations": [20],
  "out_file": ["lighthouse"],
  "seed": 42
}
JSON

cat > "$dir/alice/task_robot.txt" <<'JSON'
{
  "text": ["A picture of a \"friendly\" robot:1.5|rust:-0.3"],
  "style": ["", "Banksy"],
  "each": [2],
  "iterations": [20],
  "out_file": ["alice_robot"],
  "portrait": [true]
}
JSON

cat > "$dir/bob/task_forest.txt" <<'JSON'
{
  "text": "A forest at dawn",
  "iteration": 20,
  "out_file": "bob_forest"
}
JSON
echo "example shared folder written to $dir"
