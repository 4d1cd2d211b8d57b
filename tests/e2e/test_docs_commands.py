"""Every command the documentation shows (docs/*.md code blocks with lines beginning with `planner`) runs
as written and succeeds, so the docs can never drift from what the tool does.

Each code block is a sequence: it runs from a fresh office (doc_commands.office: `planner init`, the
example campaigns applied, jadwal-februari.csv at hand) against the sandbox, line after line, and every
line must exit 0 without a traceback. The docs are read when the test runs.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests run with --import-mode=importlib
from doc_commands import REPO, Command, Workspace, code_blocks, office, planner_blocks, run_all  # noqa: E402

pytestmark = pytest.mark.timeout(600)

# Documents whose commands must be tested (more are picked up as soon as they show commands).
REQUIRED = ("docs/import-and-calendar.md", "docs/panduan.md")


def documented_blocks() -> list[tuple[str, list[Command]]]:
    found = []
    for path in sorted((REPO / "docs").glob("*.md")):
        name = f"docs/{path.name}"
        for number, block in enumerate(planner_blocks(path.read_text("utf-8"), name), start=1):
            found.append((f"{name}#{number}", block))
    return found


def test_the_docs_commands_are_found():
    blocks = documented_blocks()
    for required in REQUIRED:
        assert any(name.startswith(required + "#") for name, _ in blocks), f"no planner commands in {required}"
    lines = [c.line for _, block in blocks for c in block]
    assert any(line.startswith("planner import ") for line in lines)
    assert any(line.startswith("planner calendar ") for line in lines)


@pytest.mark.parametrize("name, block", documented_blocks(), ids=[name for name, _ in documented_blocks()])
def test_documented_commands_succeed(tmp_path, sandbox, name, block):
    workspace = office(tmp_path, sandbox)
    failures = run_all(workspace, block)
    assert not failures, f"{name}: documented commands failed:\n\n" + "\n\n".join(failures)


def test_the_runner_reports_each_failing_line_and_follows_cd(tmp_path, sandbox):
    """The harness itself: a failing line, a `planner run` that cannot start and English output are reported;
    cd carries over."""
    workspace = Workspace(tmp_path, sandbox)
    failures = run_all(workspace, [Command("x:1", "planner campaign show tidak-ada"),
                                   Command("x:2", "planner run"),
                                   Command("x:3", "mkdir -p sub && cd sub   # a comment"),
                                   Command("x:4", "planner --version"),
                                   Command("x:5", "planner --lang en --help")])  # exit 0, but English
    assert [f.split(":", 2)[1] for f in failures] == ["1", "2", "5"], failures
    assert "said in English" in failures[2]
    assert workspace.cwd == tmp_path / "sub"


def inline_commands(markdown: str) -> list[str]:
    """`planner ...` written inside a sentence (inline code), e.g. `planner post retry NOMOR`, and the
    commands inside any code block (a systemd unit's ExecStart, a crontab line, a TOML comment)."""
    spans = re.findall(r"`(planner [^`]+)`", markdown)
    for _, _, body in code_blocks(markdown):
        for _, text in body:
            spans += [f"planner{m}" for m in re.findall(r"(?<![\w.-])planner((?: [^\s&|>;#`'\"]+)+)", text)]
    return spans


DOCUMENTS = ["README.md", *sorted(f"docs/{p.name}" for p in (REPO / "docs").glob("*.md"))]


def known_commands() -> dict[tuple[str, ...], set[str]]:
    """Every command path of the app, with the options it (and the app itself) accepts."""
    from typer.main import get_command

    from planner.cli.main import build_app

    app = get_command(build_app())
    top = {opt for param in app.params for opt in param.opts}
    found = {}

    def walk(command, path):
        found[path] = top | {"--help"} | {opt for param in command.params for opt in [*param.opts, *param.secondary_opts]}
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*path, name))

    walk(app, ())
    return found


def inline_problems(spans: list[str], commands: dict[tuple[str, ...], set[str]]) -> list[str]:
    wrong = []
    for span in spans:
        words = span.replace("[", " ").replace("]", " ").split()[1:]
        path: tuple[str, ...] = ()
        skip = False
        for word in words:
            if skip or word.startswith("-"):
                skip = word in ("--as", "--lang", "--config", "-c")  # the next word is its value
                continue
            if (*path, word) in commands:
                path = (*path, word)
                continue
            if any(len(k) == len(path) + 1 and k[:len(path)] == path for k in commands):
                wrong.append(f"{span}: no command {' '.join((*path, word))!r}")  # a group needs a known subcommand
            break
        options = {w.split("=", 1)[0] for w in words if w.startswith("--")}
        if options - commands[path]:
            wrong.append(f"{span}: unknown option(s) {sorted(options - commands[path])}")
    return wrong


def test_the_sentence_check_catches_wrong_commands():
    commands = known_commands()
    assert inline_problems(["planner post retry NOMOR", "planner --as sari reject NOMOR --reason x",
                            "planner check --hours 24", "planner --help"], commands) == []
    assert len(inline_problems(["planner post reqeue NOMOR", "planner stauts", "planner queue --stat x"],
                               commands)) == 3


@pytest.mark.parametrize("document", DOCUMENTS)
def test_commands_named_in_sentences_exist(document):
    """Commands the text names in passing (with NOMOR or FILE for the user to fill in) are real commands with
    real options, in the README and every document."""
    mentioned = inline_commands((REPO / document).read_text("utf-8"))
    assert mentioned or document not in ("README.md", "docs/panduan.md")
    assert inline_problems(mentioned, known_commands()) == []
