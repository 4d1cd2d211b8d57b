"""Where the tool keeps the secrets it obtains itself (tokens from `planner account connect`, rotated
refresh tokens).

The OS keyring when a real backend is available (references ``keyring:humas-planner/ACCOUNT.KEY``),
else a secrets file next to config.toml (references ``secrets:ACCOUNT/KEY``): ``.secrets/secrets.json``,
mode 0600 in a 0700 folder, refused whenever its mode is wider. Every change happens under one file lock
(``.secrets/secrets.lock``, used for the keyring too) and a file write is atomic (temp file, fsync,
rename), so a token refresh inside `planner run` and a `connect` in a terminal never lose each other's
tokens. config.toml only ever holds the references.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping

from planner.errors import PlannerError

KEYRING_SERVICE = "humas-planner"
FOLDER = ".secrets"
FILE = "secrets.json"
LOCK = "secrets.lock"
BACKEND_ENV = "HUMAS_SECRETS_BACKEND"  # "file" or "keyring": overrides the automatic choice
LOCK_TIMEOUT = 60.0
# What the connect flows store per account (a keyring cannot list its entries, so the names are known here).
KEYRING_KEYS = ("access_token", "refresh_token", "expires_at", "lifetime", "scope", "client_id", "client_secret",
                "client_kind", "app_id", "app_secret", "instance", "redirect_uri", "bot_token", "app_password",
                "page_access_token")

_thread_locks: dict[str, threading.RLock] = {}
_guard = threading.Lock()
_held = threading.local()


class SecretStoreError(PlannerError):
    pass


def keyring_usable() -> bool:
    """A keyring backend that really stores secrets (not the 'fail' or 'null' placeholder)."""
    try:
        import keyring
        from keyring.backends import fail

        backend = keyring.get_keyring()
        if isinstance(backend, fail.Keyring) or type(backend).__module__.endswith(".null"):
            return False
        return getattr(backend, "priority", 0) > 0
    except Exception:  # a broken keyring installation is no keyring
        return False


def choose_backend() -> str:
    wanted = os.environ.get(BACKEND_ENV, "").strip().lower()
    if wanted in ("file", "keyring"):
        return wanted
    return "keyring" if keyring_usable() else "file"


class SecretStore:
    """The secrets of one workspace (the folder of config.toml)."""

    def __init__(self, config_path: Path, backend: str | None = None):
        self.base = Path(config_path).resolve().parent
        self.folder = self.base / FOLDER
        self.file = self.folder / FILE
        self.backend = backend or choose_backend()

    # --- references ------------------------------------------------------------------------------
    def reference(self, account: str, key: str) -> str:
        if self.backend == "keyring":
            return f"keyring:{KEYRING_SERVICE}/{account}.{key}"
        return f"secrets:{account}/{key}"

    # --- locking ----------------------------------------------------------------------------------
    @contextmanager
    def locked(self) -> Iterator[None]:
        """Held while reading-then-writing (a refresh): one process and one thread at a time."""
        from filelock import FileLock, Timeout

        self._ensure_folder()
        with _guard:
            thread_lock = _thread_locks.setdefault(str(self.folder), threading.RLock())
        with thread_lock:
            held = getattr(_held, "folders", None)
            if held is None:
                held = _held.folders = set()
            if str(self.folder) in held:  # this thread holds it already (save() inside a refresh)
                yield
                return
            lock = FileLock(str(self.folder / LOCK), timeout=LOCK_TIMEOUT, mode=0o600)
            try:
                lock.acquire()
            except Timeout:
                raise SecretStoreError("secrets.lock_timeout", path=str(self.folder / LOCK)) from None
            held.add(str(self.folder))
            try:
                yield
            finally:
                held.discard(str(self.folder))
                lock.release()

    # --- reading ----------------------------------------------------------------------------------
    def get(self, account: str, key: str) -> str | None:
        if self.backend == "keyring":
            return _keyring_get(f"{account}.{key}")
        return self._read_file().get(account, {}).get(key)

    def values(self, account: str, keys: tuple[str, ...]) -> dict[str, str]:
        """Only ``keys`` (a keyring is asked once per key: a few lookups, not every known name)."""
        if self.backend == "keyring":
            return {k: v for k in keys if (v := _keyring_get(f"{account}.{k}")) is not None}
        return {k: v for k, v in self._read_file().get(account, {}).items() if k in keys}

    def record(self, account: str) -> dict[str, str]:
        """Everything stored for ``account`` in the secrets file (the keyring backend: the keys asked for)."""
        if self.backend == "keyring":
            return {k: v for k in KEYRING_KEYS if (v := _keyring_get(f"{account}.{k}")) is not None}
        return dict(self._read_file().get(account, {}))

    # --- writing ----------------------------------------------------------------------------------
    def save(self, account: str, values: Mapping[str, str | None], *, replace: bool = False) -> dict[str, str]:
        """Store ``values`` for ``account`` (None deletes a key; ``replace`` drops the keys not given).
        Returns key -> reference. Call inside ``locked()`` when the values depend on what was read."""
        with self.locked():
            if self.backend == "keyring":
                # The refresh token first: it is the one that cannot be obtained again.
                for key in sorted(values, key=lambda k: k != "refresh_token"):
                    _keyring_set(f"{account}.{key}", values[key])
            else:
                data = self._read_file()
                entry = {} if replace else dict(data.get(account, {}))
                for key, value in values.items():
                    if value is None:
                        entry.pop(key, None)
                    else:
                        entry[key] = str(value)
                data[account] = entry
                self._write_file(data)
        return {key: self.reference(account, key) for key, value in values.items() if value is not None}

    # --- the file ---------------------------------------------------------------------------------
    def _ensure_folder(self) -> None:
        try:
            self.folder.mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            raise SecretStoreError("secrets.unwritable", path=str(self.folder), error=exc.strerror or "") from None
        self._check_mode(self.folder, folder=True)

    def _check_mode(self, path: Path, *, folder: bool) -> None:
        if os.name != "posix":
            return
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode) or (folder and not stat.S_ISDIR(info.st_mode)) or \
                (not folder and not stat.S_ISREG(info.st_mode)):
            raise SecretStoreError("secrets.not_regular", path=str(path))
        if info.st_mode & 0o077:
            raise SecretStoreError("secrets.mode_too_wide", path=str(path), mode=f"{info.st_mode & 0o777:o}",
                                   wanted="700" if folder else "600")
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            raise SecretStoreError("secrets.foreign_owner", path=str(path))

    def _read_file(self) -> dict[str, dict[str, str]]:
        if not self.file.exists():
            return {}
        self._check_mode(self.folder, folder=True)
        self._check_mode(self.file, folder=False)
        try:
            data = json.loads(self.file.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise SecretStoreError("secrets.unreadable", path=str(self.file), error=type(exc).__name__) from None
        return data if isinstance(data, dict) else {}

    def _write_file(self, data: dict) -> None:
        self._ensure_folder()
        tmp = self.folder / f".{FILE}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=1, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.file)
            dir_fd = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise SecretStoreError("secrets.unwritable", path=str(self.file), error=exc.strerror or "") from None


def _keyring_get(user: str) -> str | None:
    try:
        import keyring

        return keyring.get_password(KEYRING_SERVICE, user)
    except Exception as exc:
        raise SecretStoreError("secrets.keyring_error", error=type(exc).__name__) from None


def _keyring_set(user: str, value: str | None) -> None:
    try:
        import keyring

        if value is None:
            try:
                keyring.delete_password(KEYRING_SERVICE, user)
            except keyring.errors.PasswordDeleteError:
                pass
        else:
            keyring.set_password(KEYRING_SERVICE, user, str(value))
    except SecretStoreError:
        raise
    except Exception as exc:
        raise SecretStoreError("secrets.keyring_error", error=type(exc).__name__) from None


def resolve_file_reference(config_path: Path, reference: str) -> str | None:
    """The value of ``secrets:ACCOUNT/KEY`` in the workspace of ``config_path``."""
    account, _, key = reference.removeprefix("secrets:").partition("/")
    return SecretStore(config_path, backend="file").get(account, key)
