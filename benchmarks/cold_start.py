"""Target 1: `planner --help` cold start <= 1.5 x `python -c "import typer"`.

Both run as fresh subprocesses of the venv's interpreter, interleaved (so drift in machine load
hits both alike), in an empty directory (no config.toml to read), after two warm-up runs of each
(the OS file cache is warm: "cold" means a new interpreter, not a cold disk). Median of N each.

Two environments are measured, because bytecode caching decides a large part of the result:

- "as is": the environment this is started from. Here PYTHONDONTWRITEBYTECODE=1 is set and the
  project is installed editable, so planner's own modules have no .pyc and are compiled from
  source on every start, while typer's .pyc files (written by pip at install time) are used.
- "bytecode cached": PYTHONDONTWRITEBYTECODE unset and PYTHONPYCACHEPREFIX pointing to a temporary
  folder (nothing is written into the source tree); after the warm-up both commands load every
  module from cached bytecode, as after a regular (non-editable) pip install.

The verdict (exit code) is on the "bytecode cached" figure: every installed program runs from
cached bytecode (pip compiles it when installing; an editable install writes it on the first run),
while this machine sets PYTHONDONTWRITEBYTECODE=1, so "as is" recompiles planner's modules on every
start, a cost no user pays twice. Both are printed.

    python benchmarks/cold_start.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import finish, header, median, percentile, verdict, workspace  # noqa: E402

TARGET_RATIO = 1.5


def timed(cmd: list[str], cwd: Path, env: dict) -> float:
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {result.stderr.decode()[-2000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    header("cold start: planner --help vs python -c 'import typer'")
    bindir = Path(sys.executable).parent
    commands = {"planner": [str(bindir / "planner"), "--help"], "typer": [sys.executable, "-c", "import typer"]}
    cwd = workspace("coldstart")
    base = {k: v for k, v in os.environ.items() if k not in ("PLANNER_CONFIG", "PLANNER_LANG")}
    cached = {k: v for k, v in base.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cached["PYTHONPYCACHEPREFIX"] = str(cwd / "pycache")
    envs = {"as is": base, "bytecode cached": cached}
    print(f"   PYTHONDONTWRITEBYTECODE in this environment: {os.environ.get('PYTHONDONTWRITEBYTECODE', '(unset)')}")
    for env in envs.values():
        for cmd in commands.values():
            for _ in range(2):
                timed(cmd, cwd, env)
    times = {(e, c): [] for e in envs for c in commands}
    order = [(e, c) for e in envs for c in commands]
    for i in range(args.runs):
        for e, c in (order if i % 2 == 0 else list(reversed(order))):
            times[(e, c)].append(timed(commands[c], cwd, envs[e]))
    ratios = {}
    print(f"   runs: {args.runs} of each command in each environment, interleaved")
    for e in envs:
        p, t = median(times[(e, "planner")]), median(times[(e, "typer")])
        ratios[e] = p / t
        print(f"   [{e}]")
        for c, label in (("planner", "planner --help          "), ("typer", "python -c 'import typer'")):
            values = times[(e, c)]
            print(f"     {label} median {median(values) * 1000:6.1f} ms  (min {min(values) * 1000:.1f}, "
                  f"p90 {percentile(values, 90) * 1000:.1f})")
        print(f"     ratio {ratios[e]:.2f} (target <= {TARGET_RATIO}): {'pass' if ratios[e] <= TARGET_RATIO else 'FAIL'}")
    finish(cwd, True)
    return verdict(ratios["bytecode cached"] <= TARGET_RATIO, "cold_start")


if __name__ == "__main__":
    sys.exit(main())
