"""Writing the files the tool makes (reports, calendar exports, database copies): one safe way for all.

``safe_write(path, content)``:

- refuses a target that exists and is not a regular file (a folder, a device such as /dev/full, a FIFO, a
  socket): replacing it would destroy it, and writing into it would report "written" for nothing;
- refuses a missing folder with a clear message, unless the caller asks for it to be made
  (``make_parents``: folders made here are 0700);
- writes a temporary file in the target's folder (0600, or the old file's mode when one is replaced), fsyncs
  it, and renames it into place with os.replace, so a reader sees the old file or the new one, never half;
- on any OSError (disk full, no permission, read-only file system...) removes the temporary file, leaves the
  old file as it was, and raises ``FileWriteError``, a PlannerError that says what is wrong and what to do.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import Path
from typing import Callable, Union

from planner.errors import PlannerError

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700

Content = Union[bytes, str, Callable[[Path], None]]

# errno -> the catalogue key of a short reason with what to do (files.reason_*).
REASONS = {
    errno.ENOSPC: "files.reason_enospc",
    errno.EDQUOT: "files.reason_edquot",
    errno.EACCES: "files.reason_eacces",
    errno.EPERM: "files.reason_eacces",
    errno.EROFS: "files.reason_erofs",
    errno.EFBIG: "files.reason_efbig",
    errno.EIO: "files.reason_eio",
    errno.ENOENT: "files.reason_enoent",
    errno.ENOTDIR: "files.reason_enotdir",
    errno.EISDIR: "files.reason_eisdir",
    errno.ENAMETOOLONG: "files.reason_enametoolong",
    errno.ELOOP: "files.reason_eloop",
}


class FileWriteError(PlannerError):
    """A file could not be written; the message says why and what to do. Nothing half-written is left."""


def os_reason(exc: OSError) -> str:
    """A short reason for an OSError in the user's language, with what to do about it."""
    from planner.i18n import t

    key = REASONS.get(exc.errno or 0)
    if key:
        return t(key)
    return t("files.reason_other", error=exc.strerror or str(exc) or type(exc).__name__,
             code=errno.errorcode.get(exc.errno or 0, str(exc.errno)))


def _kind(mode: int) -> str:
    from planner.i18n import t

    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return t("files.kind_device")
    if stat.S_ISFIFO(mode):
        return t("files.kind_fifo")
    if stat.S_ISSOCK(mode):
        return t("files.kind_socket")
    return t("files.kind_other")


def make_private_dirs(folder: Path) -> None:
    """Make ``folder`` and its missing parents, each 0700 (before the umask). Raises FileWriteError."""
    folder = Path(folder).expanduser()
    missing = []
    current = folder
    try:
        while not os.path.lexists(current):
            missing.append(current)
            if current.parent == current:
                break
            current = current.parent
        if not current.is_dir():
            if current == folder:
                raise FileWriteError("files.not_a_folder", folder=str(folder))
            raise FileWriteError("files.parent_not_folder", folder=str(current), path=str(folder))
    except OSError as exc:
        raise FileWriteError("files.mkdir_failed", folder=str(folder), reason=os_reason(exc)) from None
    for path in reversed(missing):
        try:
            os.mkdir(path, PRIVATE_DIR)
        except FileExistsError:
            if not path.is_dir():
                raise FileWriteError("files.parent_not_folder", folder=str(path), path=str(folder)) from None
        except OSError as exc:
            raise FileWriteError("files.mkdir_failed", folder=str(path), reason=os_reason(exc)) from None


def check_target(path: Path, *, make_parents: bool = False) -> tuple[Path, int | None]:
    """Where ``path`` will really be written (symlinks followed) and the mode of the file it replaces (None:
    a new file). Raises FileWriteError for a target that is not a regular file, or a folder that is missing
    (unless ``make_parents``) or is not a folder. Nothing is created here."""
    path = Path(path).expanduser()
    try:
        info = os.stat(path)  # follows a symlink: what it points at is what would be overwritten
    except FileNotFoundError:
        info = None
    except NotADirectoryError:
        raise FileWriteError("files.parent_not_folder", folder=str(_first_non_folder(path)), path=str(path)) from None
    except OSError as exc:
        raise FileWriteError("files.write_failed", path=str(path), reason=os_reason(exc)) from None
    if info is not None:
        if stat.S_ISDIR(info.st_mode):
            raise FileWriteError("files.is_directory", path=str(path))
        if not stat.S_ISREG(info.st_mode):
            raise FileWriteError("files.not_regular", path=str(path), kind=_kind(info.st_mode))
        if os.path.islink(path):
            path = Path(os.path.realpath(path))
    folder = path.parent
    if not make_parents:
        try:
            if not os.path.lexists(folder):
                raise FileWriteError("files.no_folder", folder=str(folder), path=str(path))
            if not folder.is_dir():
                raise FileWriteError("files.parent_not_folder", folder=str(folder), path=str(path))
        except OSError as exc:
            raise FileWriteError("files.write_failed", path=str(path), reason=os_reason(exc)) from None
    return path, (stat.S_IMODE(info.st_mode) if info is not None else None)


def _first_non_folder(path: Path) -> Path:
    for parent in reversed(path.parents):
        if os.path.lexists(parent) and not parent.is_dir():
            return parent
    return path.parent


def safe_write(path: Path, content: Content, *, make_parents: bool = False) -> Path:
    """Write ``content`` to ``path`` whole or not at all; returns the path written.

    ``content`` is bytes, text (written as UTF-8), or a function that writes the given temporary path itself
    (a zip file, an SQLite copy): it gets an empty 0600 file to fill. An exception of that function removes
    the temporary file and goes on up unchanged; an OSError anywhere becomes a FileWriteError.
    """
    target, old_mode = check_target(path, make_parents=make_parents)
    if make_parents:
        make_private_dirs(target.parent)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(3)}.tmp")
    made = False
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0),
                     PRIVATE_FILE)
        made = True
        if callable(content):
            os.close(fd)
            content(tmp)
            fd = os.open(tmp, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        else:
            data = content.encode("utf-8") if isinstance(content, str) else content
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        if old_mode is not None and old_mode != PRIVATE_FILE:
            os.chmod(tmp, old_mode)  # a replaced file keeps the mode someone gave it
        os.replace(tmp, target)
        made = False
        _fsync_folder(target.parent)
    except OSError as exc:
        raise FileWriteError("files.write_failed", path=str(target), reason=os_reason(exc)) from None
    finally:
        if made:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return target


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; some file systems cannot open a folder for this, which is fine."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
