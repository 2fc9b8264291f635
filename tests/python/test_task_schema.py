"""The task file's JSON Schema (docs/task.schema.json, generated from the Rust types in
src/task/schema.rs) and the Rust validator (`runvqgan validate`) agree: on the hostile corpus
(tests/corpus), the examples of docs/members.md, init's sample task and a few hand-written
tasks, whatever the validator accepts the schema accepts, and whatever the schema refuses the
validator refuses. Where the validator refuses and the schema accepts, the validator's
message must be one of the rules that the schema cannot express (listed in
src/task/json_schema.rs, NOT_IN_SCHEMA, and shown by the gallery's form as "checked when the
night runs").
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from browser import ROOT, runvqgan

if os.environ.get("CI") == "true":
    import jsonschema  # CI installs requirements.txt: a missing package is a failure there
else:
    jsonschema = pytest.importorskip("jsonschema")

SCHEMA = json.loads((ROOT / "docs" / "task.schema.json").read_text(encoding="utf-8"))

# Pieces of the validator's messages for the rules the schema leaves to the night, each
# with the NOT_IN_SCHEMA entry it belongs to.
NIGHT_ONLY = {
    "not UTF-8 text": "the file itself",
    "not valid JSON": "the file itself",
    "nested more than": "the file itself",
    "larger than 64 KiB": "the file itself",
    "is written twice": "the file itself",
    "UTF-16": "the file itself",
    "weight": "text",
    "has no text": "text",
    "too large for a seed": "seed",
    "is not allowed": "raw",
    "is not an option": "raw",
    "raw": "raw",
    "must be a whole number": "numbers",
    "must be two whole numbers": "numbers",
    "does not exist": "in_file",
    "not a picture": "in_file",
    "lies outside the shared folder": "in_file",
    "cannot be read": "in_file",
    "too long in bytes": "out_file",
    "only applies to a zoom video": "video",
    "there is no video to time": "video",
    "the video would have no frames": "video",
    "frames per video": "video",
    "makes no videos": "video",
}

HAND_WRITTEN = {
    "plain": {"text": "A café at night", "out_file": "cafe"},
    "lists": {"text": ["A dog"], "out_file": ["dog"], "seed": [7], "each": [2],
              "style": ["", "Banksy"], "resolution": [[64, 48]], "portrait": [True]},
    "schema_key": {"$schema": "../docs/task.schema.json", "text": "A dog", "out_file": "dog"},
    "video_progress": {"text": "A dog", "out_file": "dog", "iterations": 20, "video": "progress",
                       "video_seconds": 5},
    "video_zoom": {"text": "A dog", "out_file": "dog", "iterations": 20, "video": ["zoom"],
                   "zoom_every": 5, "zoom_scale": 1.02, "zoom_shift": [1, -1]},
    "video_story": {"text": "a seed ^ a tree", "out_file": "dog", "iterations": 20,
                    "story_every": 10},
    "video_kind_capital": {"text": "A dog", "out_file": "dog", "video": "Zoom"},
    "video_seconds_zero": {"text": "A dog", "out_file": "dog", "video": "progress",
                           "video_seconds": 0},
    "zoom_every_zero": {"text": "A dog", "out_file": "dog", "video": "zoom", "zoom_every": 0},
    "zoom_shift_listed": {"text": "A dog", "out_file": "dog", "video": "zoom",
                          "zoom_shift": [[1, 2]]},
    "zoom_without_video": {"text": "A dog", "out_file": "dog", "zoom_scale": 1.1},
    "zero_iterations": {"text": "A dog", "out_file": "dog", "iterations": 0},
    "neg_seed": {"text": "A dog", "out_file": "dog", "seed": -1},
    "style_colon": {"text": "A dog", "out_file": "dog", "style": ["a:b"]},
    "out_space": {"text": "A dog", "out_file": "dog "},
    "out_star": {"text": "A dog", "out_file": "do*g"},
    "unknown": {"text": "A dog", "out_file": "dog", "iteration": 3},
    "missing_out": {"text": "A dog"},
    "two_texts": {"text": ["A", "B"], "out_file": "dog"},
    "small": {"text": "A dog", "out_file": "dog", "resolution": [8, 300]},
    "portrait_text": {"text": "A dog", "out_file": "dog", "portrait": "yes"},
    "out_folder_up": {"text": "A dog", "out_file": "dog", "out_folder": "../x"},
    "raw_ok": {"text": "A dog", "out_file": "dog", "raw": "-cuts 2"},
}


def examples() -> dict[str, bytes]:
    """Every task file to compare, by name: its bytes."""
    files = {f"corpus/{p.stem}": p.read_bytes()
             for p in sorted((ROOT / "tests" / "corpus").glob("*.json"))}
    members = (ROOT / "docs" / "members.md").read_text(encoding="utf-8")
    for i, block in enumerate(re.findall(r"^  \{\n.*?^  \}$", members, re.M | re.S)):
        files[f"members.md/{i}"] = block.encode()
    init = (ROOT / "src" / "commands" / "init.rs").read_text(encoding="utf-8")
    sample = re.search(r'TASK_SAMPLE: &str = r#"(.*?)"#;', init, re.S)
    assert sample, "init's sample task not found in src/commands/init.rs"
    files["init/task_sample"] = sample.group(1).encode()
    for name, task in HAND_WRITTEN.items():
        files[f"hand/{name}"] = json.dumps(task, ensure_ascii=False).encode()
    assert len(files) > 70
    return files


def schema_verdict(data: bytes) -> tuple[bool, str]:
    """Whether the schema accepts the bytes as a JSON value (bytes that are no JSON at all
    are refused, as an editor would)."""
    try:
        value = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        return False, f"no JSON: {e}"
    errors = list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(value))
    return not errors, "; ".join(e.message[:120] for e in errors)


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shared")
    for d in ("tasks", "output", "alice"):
        (root / d).mkdir()
    return root


def rust_verdict(shared: Path, name: str, data: bytes) -> tuple[bool, str]:
    task = shared / "alice" / ("task_" + re.sub(r"[^a-z0-9]+", "_", name.lower()) + ".txt")
    task.write_bytes(data)
    env = {k: v for k, v in os.environ.items() if k != "RUNVQGAN_ROOT"}
    out = subprocess.run([runvqgan(), "validate", "--root", shared, task], env=env,
                         capture_output=True, text=True, errors="replace", timeout=60)
    task.unlink()
    return out.returncode == 0, out.stdout + out.stderr


def test_the_schema_lists_every_field_of_the_task_file():
    fields = set(SCHEMA["properties"]) - {"$schema"}
    assert fields == {"text", "style", "iterations", "out_file", "out_folder", "portrait",
                      "each", "resolution", "in_file", "template_file", "seed", "raw",
                      "video", "video_seconds", "zoom_every", "zoom_scale", "zoom_shift",
                      "story_every"}
    assert SCHEMA["additionalProperties"] is False
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_the_schema_and_the_validator_agree(shared):
    files = examples()
    disagree, night_only, agree = [], [], 0
    for name, data in files.items():
        rust_ok, message = rust_verdict(shared, name, data)
        schema_ok, why = schema_verdict(data)
        if rust_ok == schema_ok:
            agree += 1
        elif schema_ok and not rust_ok:
            rule = next((r for piece, r in NIGHT_ONLY.items() if piece in message), None)
            if rule is None:
                disagree.append(f"{name}: validate refuses, the schema accepts:\n{message}")
            else:
                night_only.append((name, rule))
        else:
            disagree.append(f"{name}: validate accepts, the schema refuses: {why}")
    assert not disagree, "\n\n".join(disagree)
    # Most files are decided by the schema alone; the rest only by rules it cannot express.
    assert agree > 2 * len(night_only), (agree, night_only)
    assert any(r == "numbers" for _, r in night_only)
