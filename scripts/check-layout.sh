#!/usr/bin/env bash
# The layout's two rules, checked from the code itself (docs/architecture.md):
#  1. no import cycle between modules, at any level: inside each folder of src/, the files and
#     subfolders (a subfolder counts as one module, with everything beneath it) import each
#     other one way only; read from every `crate::` and `super::` path outside comments and
#     outside test code (`tests.rs` files and a file's trailing `#[cfg(test)] mod`);
#  2. no source file over 450 lines.
# Exits 1 and names each cycle (with the files and paths that make it) or long file.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 - "$@" <<'PY'
import pathlib
import re
import sys
from collections import defaultdict

MAX_LINES = 450
SRC = pathlib.Path("src")
BIN_FILES = {SRC / "main.rs", SRC / "cli.rs"}  # the binary crate: its `crate::` is not the library's


def module_of(path: pathlib.Path) -> tuple:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] in ("mod", "lib"):
        parts.pop()
    return tuple(parts)


files = sorted(p for p in SRC.rglob("*.rs"))
modules = {module_of(p): p for p in files if p not in BIN_FILES}
problems = []

for p in files:
    n = sum(1 for _ in p.open(encoding="utf-8"))
    if n > MAX_LINES:
        problems.append(f"{p}: {n} lines (at most {MAX_LINES}; move tests or a part out)")

PATH = re.compile(r"(?<![A-Za-z0-9_:])((?:[A-Za-z_][A-Za-z0-9_]*)(?:::[A-Za-z_][A-Za-z0-9_]*)+)")


def code_of(text: str) -> str:
    """The file's non-test code, without comments or string literals that mention paths."""
    cut = re.search(r"^#\[cfg\(test\)\]\s*\n\s*(?:pub\s+)?mod\s+\w+\s*\{", text, re.M)
    if cut:
        text = text[: cut.start()]
    text = re.sub(r"//[^\n]*", "", text)
    return text


def resolve(segments: list, here: tuple) -> tuple | None:
    """The longest module prefix that a path names (None if it names no module of ours):
    `crate::`, `super::`, `self::`, or a path that starts with a child module's name."""
    if segments[0] == "crate":
        base, rest = (), segments[1:]
    elif segments[0] == "self":
        base, rest = here, segments[1:]
    elif segments[0] == "super":
        base, rest = here, segments
        while rest and rest[0] == "super":
            base, rest = base[:-1], rest[1:]
    elif here + (segments[0],) in modules:
        base, rest = here, segments
    else:
        return None
    best = base if base in modules else None
    cur = base
    for s in rest:
        cur = cur + (s,)
        if cur in modules:
            best = cur
        else:
            break
    return best


edges = defaultdict(list)  # (from file, to file) -> example paths
for p in files:
    if p in BIN_FILES or p.name == "tests.rs":
        continue
    here = module_of(p)
    for m in PATH.finditer(code_of(p.read_text(encoding="utf-8"))):
        target = resolve(m.group(1).split("::"), here)
        if target is None or target == here:
            continue
        edges[(here, target)].append(m.group(1))


def node_in(folder: tuple, module: tuple):
    """The child of `folder` that holds `module`: a file or a subfolder (None if outside)."""
    if module[: len(folder)] != folder:
        return None
    if len(module) == len(folder):
        return "mod.rs"  # the folder's own mod.rs (or lib.rs)
    child = module[len(folder)]
    is_dir = (SRC.joinpath(*folder, child)).is_dir()
    return child + ("/" if is_dir else ".rs")


folders = {m[:i] for m in modules for i in range(len(m))} | {()}
for folder in sorted(folders):
    graph = defaultdict(set)
    why = defaultdict(list)
    for (a, b), paths in edges.items():
        na, nb = node_in(folder, a), node_in(folder, b)
        if na is None or nb is None or na == nb:
            continue
        # An import of a folder's mod.rs from inside the folder is the folder speaking to
        # its own face; a parent module that only declares its children adds no edge.
        graph[na].add(nb)
        why[(na, nb)].append(f"{modules[a]} -> {'::'.join(b) or 'crate'} ({paths[0]})")
    # Tarjan's strongly connected components.
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    where = "src/" + "/".join(folder) + ("/" if folder else "")
    for comp in out:
        lines = [f"import cycle in {where}: {', '.join(comp)}"]
        for a in comp:
            for b in comp:
                for w in why.get((a, b), [])[:2]:
                    lines.append(f"    {w}")
        problems.append("\n".join(lines))

if problems:
    print("\n".join(problems))
    sys.exit(1)
count = len(files)
print(f"layout: {count} files, none over {MAX_LINES} lines, no import cycle between modules")
PY
