"""Running the commands the documentation shows, literally, in a fresh workspace against the sandbox.

Used by test_readme_tour.py (the README's tour) and test_docs_commands.py (docs/*.md). The Markdown is
read when the test runs, so an edit to the docs is tested as it is. Each line is given to bash as
written (``&&``, ``cd``, ``cp``, comments and all), from the folder the previous lines left us in, with
the project's venv first on PATH: what a user who activated the venv would type.

Two things stand in for the real world, between lines, and nothing else:

- every account in the workspace's config.toml is pointed at the sandbox (``api_base_url``), as
  planner.sandbox.workspace.write_sandbox_config does for the demo;
- every ``env:NAME`` credential gets a token the sandbox accepts (the user's own tokens, in real life),
  and so does every ``keyring:`` one (sandbox_keyring.py is the keyring).

``planner run`` (it runs until stopped) is started, given a few seconds, stopped with SIGINT and must
exit cleanly; ``planner sandbox serve`` likewise, when its port is free.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import tomlkit

from planner.sandbox.workspace import SANDBOX_SECRETS

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent

# A token the sandbox accepts, per platform (the same ones the demo uses).
_TOKENS = {
    "x": SANDBOX_SECRETS["HUMAS_SANDBOX_X_TOKEN"],
    "facebook": SANDBOX_SECRETS["HUMAS_SANDBOX_FB_TOKEN"],
    "instagram": SANDBOX_SECRETS["HUMAS_SANDBOX_IG_TOKEN"],
    "mastodon": SANDBOX_SECRETS["HUMAS_SANDBOX_MASTODON_TOKEN"],
    "bluesky": SANDBOX_SECRETS["HUMAS_SANDBOX_BLUESKY_PASSWORD"],
    "telegram": SANDBOX_SECRETS["HUMAS_SANDBOX_TELEGRAM_TOKEN"],
}

LONG_RUNNING = ("planner run", "planner sandbox serve")
TRACEBACK = "Traceback (most recent call last)"


@dataclass
class Command:
    source: str   # "README.md:42"
    line: str     # as written, comment included


def code_blocks(markdown: str) -> list[tuple[int, str, list[tuple[int, str]]]]:
    """Fenced code blocks: (line number of the fence, info string, [(line number, text)])."""
    blocks, current, fence_at, info = [], None, 0, ""
    for number, text in enumerate(markdown.splitlines(), start=1):
        stripped = text.strip()
        if stripped.startswith("```"):
            if current is None:
                current, fence_at, info = [], number, stripped[3:].strip()
            else:
                blocks.append((fence_at, info, current))
                current = None
        elif current is not None:
            current.append((number, text))
    return blocks


def planner_blocks(markdown: str, source: str) -> list[list[Command]]:
    """Each shell code block with a line beginning with ``planner``, as its list of command lines."""
    found = []
    for fence_at, info, body in code_blocks(markdown):
        if info not in ("", "sh", "bash", "shell", "console") or not any(
                t.strip().removeprefix("$ ").startswith("planner ") for _, t in body):
            continue
        found.append(_command_lines(body, source))
    return found


def _command_lines(body, source: str) -> list[Command]:
    found = []
    for number, text in body:
        stripped = text.strip()
        if stripped.startswith("$ "):
            stripped = stripped[2:]
        if not stripped or stripped.startswith("#"):
            continue
        found.append(Command(f"{source}:{number}", stripped))
    return found


def planner_commands(markdown: str, source: str, *, heading: str) -> list[Command]:
    """The command lines of the first code block after the line ``heading``."""
    at = next((i for i, text in enumerate(markdown.splitlines(), start=1) if text.strip() == heading), None)
    assert at is not None, f"{source}: no heading {heading!r}"
    block = next((b for b in code_blocks(markdown) if b[0] > at), None)
    assert block is not None, f"{source}: no code block under {heading!r}"
    return _command_lines(block[2], source)


def words(line: str) -> list[str]:
    """The line's words as the shell reads them, comment dropped."""
    return shlex.split(line, comments=True)


def is_long_running(line: str) -> bool:
    text = " ".join(words(line))
    return any(text == name or text.startswith(name + " ") for name in LONG_RUNNING)


class Workspace:
    """The folder a user works in, the sandbox standing in for the platforms, and the shell's state."""

    def __init__(self, root: Path, sandbox, *, lang: str | None = None):
        self.root = root
        self.cwd = root
        self.sandbox = sandbox
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PLANNER_", "KPU_"))}
        self.env.update({"PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", "COLUMNS": "120",
                         "HOME": str(root / ".home"), "XDG_CACHE_HOME": str(root / ".cache"),
                         "PYTHONWARNINGS": "ignore", "USER": "andi",
                         # keyring: references resolve to sandbox tokens (sandbox_keyring.py), never the real keyring
                         "PYTHON_KEYRING_BACKEND": "sandbox_keyring.SandboxKeyring",
                         "PYTHONPATH": str(Path(__file__).resolve().parent)})
        if lang:
            self.env["PLANNER_LANG"] = lang
        (root / ".home").mkdir(parents=True, exist_ok=True)

    # --- the stand-ins -------------------------------------------------------------------------------
    def wire_to_sandbox(self) -> None:
        """Point every account of the config.toml here (if any) at the sandbox; tokens for env: credentials."""
        path = self.cwd / "config.toml"
        if not path.is_file():
            return
        doc = tomlkit.parse(path.read_text("utf-8"))
        changed = False
        for name, account in (doc.get("accounts") or {}).items():
            if not isinstance(account, dict):
                continue
            if account.get("api_base_url") != self.sandbox.base_url:
                account["api_base_url"] = self.sandbox.base_url
                changed = True
            for value in (account.get("credentials") or {}).values():
                if isinstance(value, str) and value.startswith("env:"):
                    self.env.setdefault(value[4:], _TOKENS.get(str(account.get("platform")), "sandbox-token-0001"))
        if changed:
            path.write_text(tomlkit.dumps(doc), "utf-8")

    # --- running ---------------------------------------------------------------------------------------
    def run(self, command: Command, timeout: float = 120) -> subprocess.CompletedProcess:
        """One line through bash, from the current folder; the folder it ends in becomes the current one."""
        self.wire_to_sandbox()
        if is_long_running(command.line):
            return self._run_and_stop(command)
        where = self.root / ".cwd"
        script = f"set -o pipefail\n{command.line}\nstatus=$?\npwd > {shlex.quote(str(where))}\nexit $status\n"
        result = subprocess.run(["bash", "-c", script], cwd=self.cwd, env=self.env, capture_output=True,
                                text=True, timeout=timeout)
        if where.is_file():
            self.cwd = Path(where.read_text().strip())
        self.wire_to_sandbox()
        return result

    def _run_and_stop(self, command: Command) -> subprocess.CompletedProcess:
        """Start a command that runs until stopped; after a few seconds it must still run (or have ended
        well); Ctrl-C must then stop it cleanly (exit 0, no traceback)."""
        parts = words(command.line)
        if parts[:3] == ["planner", "sandbox", "serve"]:
            # The documented fixed port: one test process at a time serves it (pytest-xdist runs several).
            from filelock import FileLock

            port = _port_of(parts)
            with FileLock(os.path.join(tempfile.gettempdir(), f"humas-planner-test-port-{port}.lock")):
                if not _port_free(port):
                    return subprocess.CompletedProcess(parts, 0, "skipped: port in use", "")
                return self._start_and_interrupt(command, parts)
        return self._start_and_interrupt(command, parts)

    def _start_and_interrupt(self, command: Command, parts: list[str]) -> subprocess.CompletedProcess:
        process = subprocess.Popen(["bash", "-c", f"exec {command.line}"], cwd=self.cwd, env=self.env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
        try:
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.2)
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
            out, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            out, err = process.communicate()
            return subprocess.CompletedProcess(parts, 124, out, err + "\n(did not stop within 30 s of Ctrl-C)")
        code = process.returncode
        if code in (-signal.SIGINT, 130):  # stopped by the signal itself rather than by its own handler
            code = 0 if TRACEBACK not in err else 1
        return subprocess.CompletedProcess(parts, code, out, err)


# A spreadsheet of February content for the example campaign, as docs/import-and-calendar.md describes it
# (Indonesian headers, `;` as Excel writes it with Indonesian settings).
FEBRUARY_CSV = (
    "tanggal;jam;kanal;isu;teks\n"
    "2027-02-17;09:00;kpu_x, kpu_fb;Cek DPT sebelum terlambat;\"Sudah cek DPT? Buka cekdptonline.kpu.go.id dan ketik NIK.\"\n"
    "2027-02-24;19:00;kpu_telegram;Pemilih pindah domisili;\"Pindah domisili? Urus pindah memilih di PPS setempat.\"\n"
)


def office(root: Path, sandbox, *, lang: str | None = None) -> Workspace:
    """A humas office as the docs assume it: ``kantor/`` made by `planner init`, the checkout's example
    campaigns (with media and jadwal.csv) in kantor/campaigns and applied, jadwal-februari.csv beside
    the config; the checkout's campaigns/ also at ``../campaigns``. The shell starts in kantor/."""
    import shutil

    shutil.copytree(REPO / "campaigns", root / "campaigns")
    workspace = Workspace(root, sandbox, lang=lang)
    for line in ("planner init kantor && cd kantor",
                 "cp -r ../campaigns/. campaigns/",
                 "planner campaign apply campaigns/*.toml"):
        result = workspace.run(Command("setup", line))
        assert result.returncode == 0, describe(Command("setup", line), result)
    (workspace.cwd / "jadwal-februari.csv").write_text(FEBRUARY_CSV, "utf-8")
    return workspace


def _port_of(parts: list[str]) -> int:
    for i, part in enumerate(parts):
        if part == "--port" and i + 1 < len(parts):
            return int(parts[i + 1])
        if part.startswith("--port="):
            return int(part.split("=", 1)[1])
    return 8787


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def describe(command: Command, result: subprocess.CompletedProcess) -> str:
    return (f"{command.source}: `{command.line}` exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout[-3000:]}\n--- stderr ---\n{result.stderr[-3000:]}")


def run_all(workspace: Workspace, commands: list[Command]) -> list[str]:
    """Every command in order; the failures, described. A traceback anywhere is a failure too, and so is
    one of Click/Typer/pydantic's English sentences in the output (the workspaces speak Indonesian)."""
    failures = []
    for command in commands:
        result = workspace.run(command)
        english = [line for line in (result.stdout + result.stderr).splitlines() if ENGLISH_SENTENCE.search(line)]
        if result.returncode != 0 or TRACEBACK in result.stdout + result.stderr:
            failures.append(describe(command, result))
        elif english and workspace.env.get("PLANNER_LANG", "id") == "id":
            failures.append(f"{command.source}: `{command.line}` said in English: {english[:3]}")
    return failures


def english_lines(text: str) -> list[str]:
    """Lines of ``text`` holding a known English phrase of Click/Typer/pydantic (for the Indonesian tests)."""
    return [line for line in text.splitlines() if ENGLISH.search(line)]


ENGLISH = re.compile(r"Usage:|\bOptions\b|\[OPTIONS\]|\bArguments\b|\bCommands\b|COMMAND \[ARGS\]|"
                     r"Show this message|Did you mean|Input should|Invalid value|Missing argument|"
                     r"Missing option|No such (?:command|option)|\bError:|\[default:|\[required\]|"
                     r"<(?:str|int|float|path|list\[[^\]]*\]|[a-z]+ range)>|\{[a-z_]+\}|\d<=x|x>=|x<=")

# The sentences alone (not the help-page forms above): any command's output may be checked for them.
ENGLISH_SENTENCE = re.compile(r"Usage:|Show this message|Did you mean|Input should|Invalid value|Missing argument|"
                              r"Missing option|No such (?:command|option)|^Error:|\[default:|\[required\]")
