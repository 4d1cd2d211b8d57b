"""The secrets store (planner/accounts/secrets.py): private file, refused when wider, atomic and locked writes,
the keyring backend, and references resolved by the config."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend

from planner.accounts.secrets import SecretStore, SecretStoreError, choose_backend
from planner.accounts.resolve import resolve_secret
from planner.config import ConfigError


class MemoryKeyring(KeyringBackend):
    """A keyring that keeps secrets in memory: the machine's real keyring is never touched."""

    priority = 1

    def __init__(self):
        super().__init__()
        self.stored: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.stored.get((service, username))

    def set_password(self, service, username, password):
        self.stored[(service, username)] = password

    def delete_password(self, service, username):
        self.stored.pop((service, username), None)


@pytest.fixture
def config_path(tmp_path) -> Path:
    path = tmp_path / "kantor" / "config.toml"
    path.parent.mkdir()
    path.write_text("", "utf-8")
    return path


def test_file_store_is_private_and_references_resolve(config_path):
    store = SecretStore(config_path, backend="file")
    refs = store.save("kpu_x", {"access_token": "at-1", "refresh_token": "rt-1"})
    assert refs == {"access_token": "secrets:kpu_x/access_token", "refresh_token": "secrets:kpu_x/refresh_token"}
    assert (store.folder.stat().st_mode & 0o777, store.file.stat().st_mode & 0o777) == (0o700, 0o600)
    assert resolve_secret(refs["refresh_token"], account="kpu_x", key="refresh_token", config_path=config_path) == "rt-1"
    store.save("kpu_x", {"access_token": "at-2", "refresh_token": None})  # None deletes, the rest is kept
    assert store.record("kpu_x") == {"access_token": "at-2"}
    with pytest.raises(ConfigError) as caught:
        resolve_secret(refs["refresh_token"], account="kpu_x", key="refresh_token", config_path=config_path)
    assert "planner account connect kpu_x" in caught.value.render()
    assert not [p for p in store.folder.iterdir() if p.name.endswith(".tmp")]  # no temp file left behind


@pytest.mark.parametrize("which, mode", [("file", 0o644), ("file", 0o640), ("folder", 0o755)])
def test_a_wider_mode_is_refused_with_the_chmod_to_run(config_path, which, mode):
    store = SecretStore(config_path, backend="file")
    store.save("kpu_x", {"access_token": "at-1"})
    (store.file if which == "file" else store.folder).chmod(mode)
    with pytest.raises(SecretStoreError) as caught:
        store.get("kpu_x", "access_token")
    said = caught.value.render()
    assert "terlalu longgar" in said and f"chmod {'600' if which == 'file' else '700'}" in said


def test_concurrent_writers_lose_nothing(config_path):
    """Threads saving their own keys at once (each a read-modify-write of the file) keep every key."""
    store = SecretStore(config_path, backend="file")

    def write(n: int) -> None:
        for i in range(20):
            SecretStore(config_path, backend="file").save(f"akun{n}", {f"k{i}": f"v{n}-{i}"})

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for n in range(4):
        assert store.record(f"akun{n}") == {f"k{i}": f"v{n}-{i}" for i in range(20)}


def test_lock_is_reentrant_within_a_thread(config_path):
    store = SecretStore(config_path, backend="file")
    with store.locked():
        store.save("kpu_x", {"refresh_token": "rt"})  # save() inside a held lock (a refresh) does not deadlock
    assert store.get("kpu_x", "refresh_token") == "rt"


def test_keyring_backend_when_one_is_available(config_path, monkeypatch):
    monkeypatch.delenv("HUMAS_SECRETS_BACKEND", raising=False)
    previous = keyring.get_keyring()
    memory = MemoryKeyring()
    keyring.set_keyring(memory)
    try:
        assert choose_backend() == "keyring"
        store = SecretStore(config_path)
        refs = store.save("kpu_x", {"access_token": "at-9", "refresh_token": "rt-9"})
        assert refs["refresh_token"] == "keyring:humas-planner/kpu_x.refresh_token"
        assert memory.stored[("humas-planner", "kpu_x.refresh_token")] == "rt-9"
        assert not store.file.exists()  # nothing written to disk but the lock file
        assert resolve_secret(refs["access_token"], account="kpu_x", key="access_token") == "at-9"
        store.save("kpu_x", {"client_kind": "public", "lifetime": "7200"})
        assert store.record("kpu_x") == {"access_token": "at-9", "refresh_token": "rt-9", "client_kind": "public",
                                         "lifetime": "7200"}
        monkeypatch.setenv("HUMAS_SECRETS_BACKEND", "file")
        assert choose_backend() == "file"  # a server without a desktop session can insist on the file
    finally:
        keyring.set_keyring(previous)


def test_no_keyring_backend_means_the_file(monkeypatch):
    from keyring.backends import fail

    monkeypatch.delenv("HUMAS_SECRETS_BACKEND", raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        assert choose_backend() == "file"
    finally:
        keyring.set_keyring(previous)


def test_a_symlinked_secrets_file_is_refused(config_path, tmp_path):
    store = SecretStore(config_path, backend="file")
    store.save("kpu_x", {"access_token": "at-1"})
    elsewhere = tmp_path / "elsewhere.json"
    os.replace(store.file, elsewhere)
    store.file.symlink_to(elsewhere)
    with pytest.raises(SecretStoreError):
        store.get("kpu_x", "access_token")
