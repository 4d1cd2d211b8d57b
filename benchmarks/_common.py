"""Helpers shared by the benchmark scripts (not a benchmark itself).

Every benchmark runs the real `planner` CLI as a subprocess of the venv's Python, against an
in-process sandbox (planner.sandbox.Sandbox) in this process, in a fresh temporary workspace.
"""

from __future__ import annotations

import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from datetime import date, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def machine() -> str:
    return f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"


def header(title: str) -> None:
    print(f"== {title}")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"   date {date.today().isoformat()}, machine: {machine()}, load average at start {load}")


def workspace(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"humas-bench-{prefix}-"))


def finish(directory: Path, ok: bool, keep: bool = False) -> None:
    """Remove a benchmark's workspace unless it failed or --keep was given (then say where it is)."""
    import shutil

    if ok and not keep:
        shutil.rmtree(directory, ignore_errors=True)
    else:
        print(f"   workspace kept (database, run.log, campaign): {directory}")


def planner_env(config: Path | None = None) -> dict:
    """Environment for a `python -m planner` subprocess: sandbox secrets, our config, no stray language."""
    from planner.sandbox.workspace import export_sandbox_secrets

    env = dict(os.environ)
    env.pop("PLANNER_LANG", None)
    env.pop("PLANNER_CONFIG", None)
    export_sandbox_secrets(env)
    if config is not None:
        env["PLANNER_CONFIG"] = str(config)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def planner(*args: str, config: Path, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([PYTHON, "-m", "planner", *args], env=planner_env(config), capture_output=True,
                            text=True, **kwargs)
    if check and result.returncode != 0:
        sys.stderr.write(result.stdout[-3000:] + result.stderr[-3000:])
        raise SystemExit(f"planner {' '.join(args)} failed with exit code {result.returncode}")
    return result


def write_config(directory: Path, base_url: str, *, publishing: str, extra_accounts: str = "") -> Path:
    """The sandbox config (six kpu_* accounts) plus ``extra_accounts`` (TOML text), then `planner init`."""
    from planner.sandbox.workspace import write_sandbox_config

    path = write_sandbox_config(directory, base_url, publishing=publishing)
    if extra_accounts:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(extra_accounts)
    planner("init", str(directory), config=path)
    return path


def mastodon_accounts(base_url: str, count: int, prefix: str = "bench_m") -> tuple[str, list[str]]:
    """``count`` Mastodon accounts with distinct tokens (the sandbox derives the user from the token).

    Returns the TOML text and the names of the accounts; the tokens are put in this process's
    environment (HUMAS_BENCH_MASTODON_NNN), which planner_env() passes on.
    """
    text, env = [], {}
    for i in range(count):
        var = f"HUMAS_BENCH_MASTODON_{i:03d}"
        env[var] = f"sandbox-bench-mastodon-token-{i:03d}"
        text.append(f'\n[accounts.{prefix}{i:03d}]\nplatform = "mastodon"\nhandle = "{prefix}{i:03d}"\n'
                    f'api_base_url = "{base_url}"\n[accounts.{prefix}{i:03d}.credentials]\n'
                    f'access_token = "env:{var}"\n')
    os.environ.update(env)
    return "".join(text), [f"{prefix}{i:03d}" for i in range(count)]


def campaign_toml(campaign_id: str, channels: list[str], items: list[tuple], start: date, end: date, *,
                  grace: str | None = None) -> str:
    """A valid campaign file: ``items`` are (content id, text, local time with seconds[, channel]).

    With a fourth element the item goes to that one channel only, else to all of ``channels``.
    """
    lines = [
        "[campaign]",
        f'id = "{campaign_id}"',
        f'name = "Benchmark {campaign_id}"',
        'owner = "Humas"',
        'timezone = "Asia/Jakarta"',
        f"start = {start.isoformat()}",
        f"end = {end.isoformat()}",
        "channels = [" + ", ".join(f'"{c}"' for c in channels) + "]",
    ]
    if grace:
        lines.append(f'grace = "{grace}"')
    lines += ["", "[goal]", 'objective = "Mengukur kinerja penjadwal."', "",
              "[[audience]]", 'id = "umum"', 'description = "Masyarakat umum"', ""]
    for content_id, text, at, *channel in items:
        lines += ["[[content]]", f'id = "{content_id}"', 'audiences = ["umum"]', f'text = "{text}"',
                  f"at = {at.strftime('%Y-%m-%dT%H:%M:%S')}"]
        if channel:
            lines.append(f'channels = ["{channel[0]}"]')
        lines.append("")
    return "\n".join(lines)


def local_now() -> datetime:
    """Now as a naive wall time in the campaigns' zone (Asia/Jakarta)."""
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo("Asia/Jakarta")).replace(tzinfo=None)


def start_run(config: Path, log: Path, *extra: str) -> subprocess.Popen:
    """`python -m planner run` in the background, its log in ``log``.

    BENCH_RUN_SCRIPT=path runs that script instead of `-m planner` (for experiments with a patched
    engine, e.g. to check a diagnosis before changing product code).
    """
    handle = log.open("w")
    entry = [os.environ["BENCH_RUN_SCRIPT"]] if os.environ.get("BENCH_RUN_SCRIPT") else ["-m", "planner", "run"]
    return subprocess.Popen([PYTHON, *entry, *extra], env=planner_env(config), stdout=handle,
                            stderr=subprocess.STDOUT)


def stop_run(proc: subprocess.Popen, timeout: float = 30) -> int:
    import signal

    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()
    return proc.returncode


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (all its threads), from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process, its children that have ended (reaped) and its live descendants: a
    PostgreSQL server's postmaster and every backend it ran, say."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    total = sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime, stime, cutime, cstime
    for child in Path("/proc").iterdir():
        if child.name.isdigit():
            try:
                if int((child / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    total += tree_cpu_seconds(int(child.name))
            except (OSError, ValueError, IndexError):
                pass  # it ended meanwhile: its time is in the parent's cutime now
    return total


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def db_rows(path: Path, sql: str, params=()) -> list[tuple]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), -(-len(ordered) * p // 100)))
    return ordered[int(rank) - 1]


def median(values: list[float]) -> float:
    return statistics.median(values)


def verdict(ok: bool, name: str) -> int:
    print(f"RESULT {name}: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1
