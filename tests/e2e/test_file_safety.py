"""Every file the tool writes goes through planner.files.safe_write: a folder, device, FIFO or socket as the
target is refused (never replaced), a place that cannot hold a file is said plainly, a write that fails half
way leaves the old file and no temporary file, and what the tool creates is private (0600 files, 0700 folders).
"""

from __future__ import annotations

import os
import resource
import socket
import stat
import subprocess
import sys
import time
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests run with --import-mode=importlib

from helpers import campaign_doc, cli, future_monday_in_february, init_workspace, write_campaign  # noqa: E402

from planner.files import FileWriteError, check_target, safe_write  # noqa: E402
from planner.store.db import loose_permissions, open_db  # noqa: E402

START = future_monday_in_february()
CAMPAIGN = "uji-berkas"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def ws(tmp_path):
    """A workspace with one applied campaign, made under the usual umask 022."""
    old = os.umask(0o022)
    try:
        folder = tmp_path / "kantor"
        init_workspace(folder)
        file = write_campaign(folder / "campaigns" / f"{CAMPAIGN}.toml", campaign_doc(CAMPAIGN, START))
        applied = cli("--config", str(folder / "config.toml"), "campaign", "apply", str(file))
        assert applied.exit_code == 0, applied.output
        yield folder
    finally:
        os.umask(old)


def run(ws: Path, *args: str):
    return cli("--config", str(ws / "config.toml"), *args)


def said_plainly(result) -> str:
    """The command ended with a message and a non-zero code, not with an exception."""
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return " ".join(result.output.split())


# --- targets that are not regular files -------------------------------------------------------------------

def test_a_folder_as_out_is_refused_and_left_alone(ws, tmp_path):
    folder = tmp_path / "laporan"
    folder.mkdir()
    (folder / "lama.txt").write_text("tetap", "utf-8")
    result = run(ws, "report", CAMPAIGN, "--format", "html", "--out", str(folder))
    text = said_plainly(result)
    assert f"{folder} adalah folder, bukan berkas" in text
    assert sorted(p.name for p in folder.iterdir()) == ["lama.txt"]

    result = run(ws, "--lang", "en", "calendar", "--ics", str(folder))
    assert f"{folder} is a folder, not a file" in said_plainly(result)


@pytest.mark.parametrize("kind", ["fifo", "socket"])
def test_a_fifo_or_socket_as_out_is_refused_not_replaced(ws, tmp_path, kind):
    target = tmp_path / f"keluar.{kind}"
    server = None
    if kind == "fifo":
        os.mkfifo(target)
    else:
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(target))
    try:
        result = run(ws, "calendar", "--ics", str(target))
        text = said_plainly(result)
        assert "bukan berkas biasa" in text and "Berkas kalender ditulis" not in text
        assert (stat.S_ISFIFO if kind == "fifo" else stat.S_ISSOCK)(os.lstat(target).st_mode)  # still there

        result = run(ws, "report", CAMPAIGN, "--format", "csv", "--out", str(target))
        assert "bukan berkas biasa" in said_plainly(result)
        assert (stat.S_ISFIFO if kind == "fifo" else stat.S_ISSOCK)(os.lstat(target).st_mode)
        assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    finally:
        if server is not None:
            server.close()


def test_a_device_is_refused_before_anything_is_written():
    # check_target only looks, so this cannot harm /dev/full even run as root.
    with pytest.raises(FileWriteError) as caught:
        check_target(Path("/dev/full"))
    assert caught.value.key == "files.not_regular"
    assert "/dev/full adalah perangkat (device), bukan berkas biasa" in caught.value.render()
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


# --- places that cannot hold a file -------------------------------------------------------------------------

@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs /proc")
def test_proc_paths_are_said_plainly(ws):
    result = run(ws, "report", CAMPAIGN, "--format", "html", "--out", "/proc/tidak-ada/laporan.html")
    assert "Folder /proc/tidak-ada tidak bisa dibuat" in said_plainly(result)

    result = run(ws, "--lang", "en", "calendar", "--ics", "/proc/jadwal.ics")
    text = said_plainly(result)
    assert "/proc/jadwal.ics cannot be written" in text and "Choose another folder" in text


def test_a_missing_folder_is_refused_by_the_writer_unless_asked_to_make_it(tmp_path):
    target = tmp_path / "belum-ada" / "berkas.txt"
    with pytest.raises(FileWriteError) as caught:
        safe_write(target, "isi")
    assert caught.value.key == "files.no_folder"
    assert f"mkdir -p {tmp_path / 'belum-ada'}" in caught.value.render()
    assert not target.parent.exists()

    old = os.umask(0o022)
    try:
        assert safe_write(target, "isi", make_parents=True) == target
    finally:
        os.umask(old)
    assert target.read_text("utf-8") == "isi"
    assert mode(target) == 0o600 and mode(target.parent) == 0o700


# --- a write that fails half way ---------------------------------------------------------------------------

def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_file(ws, tmp_path):
    """A real out-of-space-like failure (the file size limit, EFBIG) in a real `planner` process."""
    many = [{"id": f"isi-{i}", "text": f"Pengumuman nomor {i}: " + "cek DPT di situs resmi KPU. " * 6,
             "at": datetime.combine(START + timedelta(days=i % 20), dtime(8 + i % 10))} for i in range(60)]
    file = write_campaign(ws / "campaigns" / f"{CAMPAIGN}.toml", campaign_doc(CAMPAIGN, START, contents=many))
    assert run(ws, "campaign", "apply", str(file)).exit_code == 0
    out = tmp_path / "jadwal.ics"
    out.write_text("kalender lama", "utf-8")
    limit = 48 * 1024  # above SQLite's 32 KiB shared-memory file, below the export

    def limited():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    env = {k: v for k, v in os.environ.items() if k not in ("PLANNER_CONFIG", "PLANNER_LANG")}
    done = subprocess.run([sys.executable, "-m", "planner", "--config", str(ws / "config.toml"), "calendar",
                           "--ics", str(out)], capture_output=True, text=True, env=env, preexec_fn=limited,
                          timeout=120)
    text = " ".join(done.stderr.split())
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    assert f"{out} tidak bisa ditulis: berkasnya melebihi batas ukuran berkas" in text
    assert "Berkas lama di tempat itu (bila ada) tidak diubah" in text
    assert out.read_text("utf-8") == "kalender lama"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "kantor") == ["jadwal.ics"]

    # Without the limit the same command writes it (so the limit was what failed).
    done = subprocess.run([sys.executable, "-m", "planner", "--config", str(ws / "config.toml"), "calendar",
                           "--ics", str(out)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > limit


def test_the_writer_itself_under_a_size_limit(tmp_path):
    target = tmp_path / "laporan.html"
    target.write_text("laporan lama", "utf-8")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
    try:
        with pytest.raises(FileWriteError) as caught:
            safe_write(target, "x" * 100_000)
        with pytest.raises(FileWriteError):
            safe_write(target, lambda tmp: tmp.write_bytes(b"y" * 100_000))  # a function filling the file
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert caught.value.key == "files.write_failed"
    assert target.read_text("utf-8") == "laporan lama"
    assert [p.name for p in tmp_path.iterdir()] == ["laporan.html"]


# --- private by default -----------------------------------------------------------------------------------

def test_what_the_tool_creates_is_private(ws, tmp_path):
    old = os.umask(0o022)
    try:
        db = ws / "planner.db"
        assert mode(db) == 0o600
        held = open_db(db)  # while a connection is open, the -wal and -shm files exist
        held.execute("SELECT COUNT(*) FROM posts").fetchone()
        for companion in ("planner.db-wal", "planner.db-shm"):
            assert mode(ws / companion) == 0o600, companion
        assert loose_permissions(db) == []
        held.conn.close()

        assert run(ws, "report", CAMPAIGN, "--format", "csv", "--out", str(tmp_path / "baru" / "r.csv")).exit_code == 0
        assert mode(tmp_path / "baru") == 0o700 and mode(tmp_path / "baru" / "r.csv") == 0o600
        assert run(ws, "report", "--all", "--format", "json").exit_code == 0
        reports = ws / "reports"
        assert mode(reports) == 0o700 and {mode(p) for p in reports.iterdir()} == {0o600}
        assert run(ws, "calendar", "--ics", str(tmp_path / "k" / "j.ics")).exit_code == 0
        assert mode(tmp_path / "k") == 0o700 and mode(tmp_path / "k" / "j.ics") == 0o600
        assert run(ws, "backup", "--dir", str(tmp_path / "salinan" / "harian")).exit_code == 0
        copies = sorted((tmp_path / "salinan" / "harian").iterdir())  # the copy and its audit head
        assert [p.suffix for p in copies] == [".db", ".audit-head"] and {mode(p) for p in copies} == {0o600}
        assert mode(tmp_path / "salinan") == 0o700 and mode(tmp_path / "salinan" / "harian") == 0o700

        fresh = tmp_path / "db-baru" / "sub" / "planner.db"
        open_db(fresh, create=True).conn.close()
        assert mode(fresh) == 0o600 and mode(fresh.parent) == 0o700 and mode(fresh.parent.parent) == 0o700
    finally:
        os.umask(old)


def test_a_replaced_file_keeps_the_mode_it_was_given(ws, tmp_path):
    shared = tmp_path / "bersama.ics"
    shared.write_text("lama", "utf-8")
    shared.chmod(0o644)  # someone shares this export on purpose
    assert run(ws, "calendar", "--ics", str(shared)).exit_code == 0
    assert shared.read_text("utf-8").startswith("BEGIN:VCALENDAR") and mode(shared) == 0o644


def test_loose_permissions_names_the_wide_files(tmp_path):
    db = tmp_path / "planner.db"
    open_db(db, create=True).conn.close()
    assert loose_permissions(db) == []
    db.chmod(0o644)
    lock = tmp_path / "planner.db.lock"
    lock.write_text("", "utf-8")
    lock.chmod(0o666)
    assert loose_permissions(db) == [db, lock]
    assert mode(db) == 0o644  # only reported, never changed


def test_the_scheduler_lock_file_and_database_files_are_private_in_a_real_process(tmp_path):
    """`planner run` as a real process under umask 022: its lock file and the database files are 0600."""
    folder = tmp_path / "kantor"
    env = {k: v for k, v in os.environ.items() if k not in ("PLANNER_CONFIG", "PLANNER_LANG")}
    umask_022 = lambda: os.umask(0o022)  # noqa: E731
    done = subprocess.run([sys.executable, "-m", "planner", "init", str(folder)], capture_output=True, text=True,
                          env=env, preexec_fn=umask_022, timeout=120)
    assert done.returncode == 0, done.stderr
    assert mode(folder) == 0o700 and mode(folder / "campaigns") == 0o700 and mode(folder / "planner.db") == 0o600
    proc = subprocess.Popen([sys.executable, "-m", "planner", "--config", str(folder / "config.toml"), "run",
                             "--no-monitoring"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                            preexec_fn=umask_022)
    try:
        lock = folder / "planner.db.lock"
        deadline = time.monotonic() + 60
        while not (lock.exists() and (folder / "planner.db-shm").exists()) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.1)
        assert mode(lock) == 0o600
        assert mode(folder / "planner.db-wal") == 0o600 and mode(folder / "planner.db-shm") == 0o600
    finally:
        proc.terminate()
        proc.wait(30)
