"""A keyring backend for the documentation tests: every secret asked for is a token the sandbox accepts.

Selected in the commands' environment with PYTHON_KEYRING_BACKEND=sandbox_keyring.SandboxKeyring (this
folder on PYTHONPATH), so a config's ``keyring:service/user`` references are used as written; the
machine's real keyring is never touched.
"""

from __future__ import annotations

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class SandboxKeyring(KeyringBackend):
    priority = 1

    def __init__(self):
        super().__init__()
        self._stored: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._stored.get((service, username), "sandbox-keyring-secret-0001")

    def set_password(self, service: str, username: str, password: str) -> None:
        self._stored[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self._stored.pop((service, username), None) is None:
            raise PasswordDeleteError(username)
