#!/usr/bin/env python3
"""Seconds per iteration, side by side: generate.py (upstream) and the engine's two modes.

    .venv/bin/python scripts/bench_step_upstream.py --upstream PATH/generate.py \\
        --upstream-python UPSTREAM_VENV/bin/python [--size W H] [--cutn N ...] \\
        [--rounds R] [--warmup W] [--threads T ...] [--json OUT.json]

For each ``--cutn`` three processes run the same job, with the same generate.py flags, on
the full-size random-weight models (``--models``, made by scripts/make_tiny_models.py
``--full-size`` if missing): nerdyrodent's generate.py unmodified in its own environment
(scripts/upstream-env.sh makes one; the import shims of scripts/compare_upstream.py), and
the same flags through ``vqgan_clip.generate``'s parser into the engine in reference mode
and in fast mode. Each process loads its models once and then runs its loop, paused between
turns: the driver hands out one turn at a time (``--per-turn`` iterations, at a thread count
given per turn), in the order generate.py, reference, fast, for each thread count, for
``--warmup`` untimed rounds and then ``--rounds`` timed ones, with the side that starts a
round rotating. So load from elsewhere on the machine falls on all three alike, and only
one of them runs at any time.

The clock is outside upstream's code and the same on every side: ``Tensor.backward`` is
wrapped (each loop calls it once per iteration, on the summed loss); an iteration is the
time from one call to the next, less the pause between turns (which falls at the call).
So an iteration covers zero_grad, decoding, cutouts, CLIP, the losses, the backward pass,
the optimiser's step and the clamp. Prints a table: the median seconds per iteration of
each side at each thread count and its ratio to generate.py's (below 1: faster).
``--baseline DIR``: also the engine of another checkout (its ``vendor/``, e.g. made by
``git worktree add DIR COMMIT``), as two more sides ``reference@base`` and ``fast@base``
in the same turns, to show a change's effect in one run. ``--profile DIR``: one more round
after the timed ones, under ``torch.profiler``, whose operator tables (self CPU time) go to
``DIR/cutn<N>-<side>-<threads>t.txt``. Takes
about ``sides x (rounds + warmup) x per_turn x (s/it at each thread count)`` per cutn, plus a
minute to load the models.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
SIDES = ("generate.py", "reference", "fast")
PROMPT = "a painting of a lighthouse in a storm"
#: Upstream's loop runs to ``-i``; the driver stops every side long before.
ENDLESS = 1_000_000


# -- the children: one loop each, paused at every backward call between turns -------------

class Pacer:
    """Times iterations at ``Tensor.backward`` and pauses the loop between turns.

    Commands come on stdin, one per line: ``go THREADS N [PROFILE_FILE]`` (run N more
    iterations with THREADS intra-op threads; with PROFILE_FILE, under ``torch.profiler``,
    its operator table written there) or ``stop``. Reports go to ``report`` as JSON lines: first
    ``{"ready": seconds}`` (the set-up, at the first backward call), then after each turn
    ``{"times": [seconds per iteration, ...]}``.
    """

    def __init__(self, report: IO[str]) -> None:
        self.report = report
        self.started = time.perf_counter()
        self.left = 0
        self.times: list[float] = []
        self.last: float | None = None
        self.profiler: Any = None
        self.profile_file = ""

    def _send(self, message: dict[str, Any]) -> None:
        self.report.write(json.dumps(message) + "\n")
        self.report.flush()

    def _wait(self) -> None:
        import torch

        line = sys.stdin.readline().rstrip("\n").split(" ", 3)
        if not line or line[0] != "go":
            os._exit(0)  # stop: nothing is written, nothing more runs
        torch.set_num_threads(int(line[1]))
        self.left, self.times = int(line[2]), []
        if len(line) > 3:
            self.profile_file = line[3]
            self.profiler = torch.profiler.profile(
                activities=[torch.profiler.ProfilerActivity.CPU])
            self.profiler.start()
        self.last = time.perf_counter()

    def mark(self) -> None:
        now = time.perf_counter()
        if self.last is None:
            self._send({"ready": now - self.started})
            self._wait()
            return
        self.times.append(now - self.last)
        self.left -= 1
        if self.left > 0:
            self.last = now
            return
        if self.profiler is not None:
            self.profiler.stop()
            Path(self.profile_file).write_text(self.profiler.key_averages().table(
                sort_by="self_cpu_time_total", row_limit=40, max_name_column_width=60))
            self.profiler = None
        self._send({"times": self.times})
        self._wait()

    def install(self) -> None:
        import torch

        plain_backward = torch.Tensor.backward
        pacer = self

        def backward(self: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            pacer.mark()
            return plain_backward(self, *args, **kwargs)

        torch.Tensor.backward = backward  # type: ignore[method-assign]


def _compare_upstream() -> Any:
    """scripts/compare_upstream.py as a module (its import shims for generate.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("compare_upstream",
                                                  ROOT / "scripts" / "compare_upstream.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def child_upstream(generate: str, flags: list[str], pacer: Pacer) -> None:
    """Run upstream's generate.py as it is, with the harness's import shims."""
    import runpy

    _compare_upstream()._install_shims()
    pacer.install()
    sys.argv = [generate, *flags]
    runpy.run_path(generate, run_name="__main__")


def child_engine(mode: str, flags: list[str], pacer: Pacer, root: Path = ROOT) -> None:
    """Run the same flags through the engine (of the checkout at ``root``) in ``mode``."""
    sys.path[:0] = [str(root / "vendor")]
    from vqgan_clip.engine import Engine, ModelSpec
    from vqgan_clip.generate import build_parser, job_from_args

    args = build_parser().parse_args(flags)
    spec = ModelSpec(vqgan_config=args.vqgan_config, vqgan_checkpoint=args.vqgan_checkpoint,
                     clip_model=args.clip_model)
    engine = Engine(spec, device="cpu", mode=mode)
    pacer.install()
    engine.generate(job_from_args(args))


def child_main(argv: list[str]) -> int:
    """``--child SIDE REPORT_FD [GENERATE_PY | BASELINE_DIR] -- generate.py flags``"""
    side, fd = argv[0], int(argv[1])
    rest = argv[2:]
    split = rest.index("--")
    pacer = Pacer(os.fdopen(fd, "w"))
    if side == "generate.py":
        child_upstream(rest[0], rest[split + 1:], pacer)
    else:
        mode, _, base = side.partition("@")
        child_engine(mode, rest[split + 1:], pacer, Path(rest[0]) if base else ROOT)
    return 0


# -- the driver --------------------------------------------------------------------------

class Side:
    """One running child process and its report pipe."""

    def __init__(self, name: str, cmd: list[str], fds: tuple[int, int], log: Path,
                 cwd: Path) -> None:
        self.name, self.log = name, log
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONUNBUFFERED": "1"}
        with open(log, "w") as out:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=out,
                                         stderr=subprocess.STDOUT, text=True, cwd=cwd,
                                         env=env, pass_fds=(fds[1],))
        os.close(fds[1])
        self.reports = os.fdopen(fds[0], "r")

    def receive(self) -> dict[str, Any]:
        line = self.reports.readline()
        if not line:
            self.proc.wait()
            tail = self.log.read_text()[-3000:]
            raise RuntimeError(f"{self.name} stopped (exit {self.proc.returncode}):\n{tail}")
        return json.loads(line)

    def turn(self, threads: int, iterations: int, profile: str = "") -> list[float]:
        assert self.proc.stdin is not None
        command = f"go {threads} {iterations}" + (f" {profile}" if profile else "")
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.receive()["times"]

    def stop(self) -> None:
        if self.proc.poll() is None and self.proc.stdin is not None:
            try:
                self.proc.stdin.write("stop\n")
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        self.proc.wait()
        self.reports.close()


def generate_flags(models: Path, size: list[int], cutn: int, output: Path) -> list[str]:
    """The job, as generate.py flags (the engine's children parse the same)."""
    return ["-p", PROMPT, "-s", str(size[0]), str(size[1]), "-cuts", str(cutn),
            "-i", str(ENDLESS), "-se", str(ENDLESS), "-sd", "1",
            "-m", str(models / "ViT-B-32.pt"),
            "-conf", str(models / "vqgan_imagenet_f16_16384.yaml"),
            "-ckpt", str(models / "vqgan_imagenet_f16_16384.ckpt"), "-o", str(output)]


def start(name: str, python: str, generate: str, flags: list[str], work: Path,
          baseline: str = "") -> Side:
    read_fd, write_fd = os.pipe()
    cmd = [python, str(Path(__file__).resolve()), "--child", name, str(write_fd)]
    cmd += [generate] if name == "generate.py" else [baseline] if "@" in name else []
    return Side(name, [*cmd, "--", *flags], (read_fd, write_fd), work / f"{name}.log", work)


def sides_of(args: argparse.Namespace) -> list[str]:
    """The sides timed: generate.py, the engine's modes, and with --baseline theirs."""
    return [*SIDES, *([f"{mode}@base" for mode in SIDES[1:]] if args.baseline else [])]


def measure_cutn(args: argparse.Namespace, cutn: int, work: Path) -> list[dict[str, Any]]:
    """Interleaved turns of the sides for one cutn; a row per (side, threads)."""
    models = Path(args.models)
    names = sides_of(args)
    sides: list[Side] = []
    try:
        for name in names:
            flags = generate_flags(models, args.size, cutn, work / f"{name}.png")
            python = args.upstream_python if name == "generate.py" else sys.executable
            sides.append(start(name, python, args.upstream, flags, work, args.baseline))
        for side in sides:  # all loaded before any turn is timed
            ready = side.receive()["ready"]
            print(f"  {side.name}: set-up {ready:.1f} s", flush=True)
        times: dict[tuple[str, int], list[float]] = {}
        for round_ in range(args.warmup + args.rounds):
            for threads in args.threads:
                for k in range(len(sides)):
                    side = sides[(round_ + k) % len(sides)]
                    got = side.turn(threads, args.per_turn)
                    if round_ >= args.warmup:
                        times.setdefault((side.name, threads), []).extend(got)
            done = round_ + 1 - args.warmup
            if done > 0:
                print(f"  round {done}/{args.rounds}: " + "; ".join(
                    f"{t} thr " + " ".join(f"{n} {times[n, t][-1]:.3f}" for n in names)
                    for t in args.threads), flush=True)
        if args.profile:
            folder = Path(args.profile).resolve()
            folder.mkdir(parents=True, exist_ok=True)
            for threads in args.threads:
                for side in sides:
                    side.turn(threads, args.per_turn,
                              str(folder / f"cutn{cutn}-{side.name}-{threads}t.txt"))
            print(f"  profiles in {folder}", flush=True)
    finally:
        for side in sides:
            side.stop()
    rows = []
    for threads in args.threads:
        base = statistics.median(times["generate.py", threads])
        for name in names:
            values = times[name, threads]
            median = statistics.median(values)
            rows.append({"cutn": cutn, "threads": threads, "side": name,
                         "median_s_per_it": round(median, 4), "min_s_per_it": round(
                             min(values), 4), "ratio": round(median / base, 3),
                         "iterations": len(values)})
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'cutn':>4} {'threads':>7} {'side':<15} {'median s/it':>11} {'min s/it':>9} "
            f"{'vs generate.py':>14}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['cutn']:>4} {r['threads']:>7} {r['side']:<15} "
                     f"{r['median_s_per_it']:>11.3f} {r['min_s_per_it']:>9.3f} "
                     f"{r['ratio']:>13.3f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child_main(argv[1:])
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _compare_upstream().add_upstream_arguments(p)
    p.add_argument("--models", default=str(ROOT / "models" / "full"),
                   help="folder of the full-size models (made if missing)")
    p.add_argument("--size", type=int, nargs=2, default=[128, 128], metavar=("W", "H"))
    p.add_argument("--cutn", type=int, nargs="+", default=[8, 2])
    p.add_argument("--threads", type=int, nargs="+", default=[1, os.cpu_count() or 1],
                   help="intra-op thread counts to time (default: 1 and all cores)")
    p.add_argument("--rounds", type=int, default=5, help="timed rounds")
    p.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    p.add_argument("--per-turn", type=int, default=1, help="iterations per turn")
    p.add_argument("--baseline", metavar="DIR", default="",
                   help="also time the engine of this other checkout (its vendor/)")
    p.add_argument("--profile", metavar="DIR",
                   help="one more round under torch.profiler; operator tables into DIR")
    p.add_argument("--json", help="also write the rows as JSON here")
    args = p.parse_args(argv)
    if not args.upstream or not args.upstream_python:
        p.error("give --upstream (generate.py) and --upstream-python "
                "(see scripts/upstream-env.sh), or set UPSTREAM_GENERATE and UPSTREAM_PYTHON")
    args.upstream = str(Path(args.upstream).resolve())
    args.baseline = str(Path(args.baseline).resolve()) if args.baseline else ""
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_engine import ensure_models

    ensure_models(Path(args.models))
    import torch

    print(f"cpu, {os.cpu_count()} cores; torch {torch.__version__}; size {args.size[0]}x"
          f"{args.size[1]}; cutn {' '.join(map(str, args.cutn))}; threads "
          f"{' '.join(map(str, args.threads))}; {args.warmup} warm-up + {args.rounds} timed "
          f"rounds of {args.per_turn} iteration(s) per side; models {args.models}", flush=True)
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for cutn in args.cutn:
            print(f"cutn {cutn}:", flush=True)
            work = Path(tmp) / f"cutn{cutn}"
            work.mkdir()
            rows.extend(measure_cutn(args, cutn, work))
    print(f"\nmedian seconds per iteration ({time.perf_counter() - started:.0f} s in all)")
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
