#!/usr/bin/env bash
# Writes an example shared folder, as the lab's would look before a night:
#   make_example.sh DIR MODELS_DIR
# MODELS_DIR holds the tiny models of scripts/make_tiny_models.py. The folder
# has a common tasks/ folder, two members' personal folders, a template that
# must be skipped, and one deliberately invalid task (a misspelt field).
set -euo pipefail
dir=$1
models=$2
mkdir -p "$dir/tasks" "$dir/output" "$dir/alice" "$dir/bob"

cat > "$dir/runvqgan.toml" <<TOML
# Example configuration: the tiny random models, small images, few iterations.
default_resolution = [96, 64]
delay_seconds = 0

[models.default]
vqgan_config = "$models/vqgan.yaml"
vqgan_checkpoint = "$models/vqgan.ckpt"
clip_model = "$models/clip.pt"
TOML

cat > "$dir/tasks/sample.txt" <<'JSON'
{
  "text": ["A painting of a something doing something"],
  "style": [""],
  "iterations": [200],
  "out_file": ["something"],
  "out_folder": ["output"],
  "portrait": [false],
  "each": [1]
}
JSON

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
