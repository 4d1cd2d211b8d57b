"""Start, stop and control the sandbox; runs in-process (tests, demo) or as `planner sandbox serve`."""

from __future__ import annotations

import importlib
import re
import threading
from pathlib import Path

from planner.sandbox.core import (
    FAULT_KINDS,
    Emulator,
    FaultRule,
    Request,
    Response,
    Route,
    SandboxState,
    _HTTPHandler,
    _Server,
)

STOP_POLL_S = 0.05  # how soon a started sandbox notices stop()

# Each module defines EMULATOR, an Emulator subclass.
EMULATOR_MODULES = (
    "planner.sandbox.x_api",
    "planner.sandbox.oauth",
    "planner.sandbox.graph_oauth",
    "planner.sandbox.graph_api",
    "planner.sandbox.mastodon_api",
    "planner.sandbox.mastodon_oauth",
    "planner.sandbox.bluesky_api",
    "planner.sandbox.telegram_api",
)


def _load_emulators(state: SandboxState) -> list[Emulator]:
    emulators = []
    for name in EMULATOR_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        emulators.append(module.EMULATOR(state))
    return emulators


class Sandbox:
    """A local stand-in for the platforms' APIs, on 127.0.0.1.

    >>> with Sandbox(seed=1) as sb:
    ...     sb.base_url  # give this as every account's api_base_url
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, latency_ms: float = 0,
                 fault_rate: float = 0.0, seed: int = 0, speed: float = 60.0, slow_seconds: float = 15.0):
        self.state = SandboxState(seed=seed, speed=speed, slow_seconds=slow_seconds)
        self.state.random_fault_rate = fault_rate
        self.latency = latency_ms / 1000
        self.media_dirs: list[Path] = self.state.media_dirs  # folders hosted at /_sandbox/media/ (serve_media)
        self.emulators = _load_emulators(self.state)
        self._routes: list[tuple[Emulator, Route]] = [
            (emulator, r) for emulator in self.emulators for r in emulator.routes()
        ]
        self._server = _Server((host, port), _HTTPHandler)
        self._server.sandbox = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self._server.server_address[0]}:{self.port}"

    def start(self) -> "Sandbox":
        # serve_forever looks for shutdown() once per poll interval: 0.5 s by default, which every stop waited.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": STOP_POLL_S},
                                        name="sandbox", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- routing ---------------------------------------------------------------------
    def resolve(self, request: Request) -> tuple[Emulator, Route] | None:
        for emulator, candidate in self._routes:
            if candidate.method != request.method:
                continue
            match = candidate.pattern.match(request.path)
            if match:
                request.params = match.groupdict()
                return emulator, candidate
        return None

    # --- in-process control (tests) ------------------------------------------------------
    def add_fault(self, kind: str, *, platform: str | None = None, path: str | None = None,
                  method: str | None = None, count: int | None = None, rate: float = 1.0,
                  reset_in: int = 2, after: int = 0) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        rule = FaultRule(kind, platform, re.compile(path) if path else None, method, count, rate, reset_in, after)
        with self.state.lock:
            self.state.faults.append(rule)

    def clear_faults(self) -> None:
        with self.state.lock:
            self.state.faults.clear()
            self.state.random_fault_rate = 0.0

    def posts(self) -> dict:
        return self.state.summary()

    def page_token(self, page_id: str, token: str | None = None, *, name: str | None = None) -> str:
        """A Facebook Page token of ``page_id`` (``token``, or a new one): Graph's ``/me`` answers as that Page."""
        from planner.sandbox.graph_oauth import _token, register_page_token

        return register_page_token(self.state, page_id, token or _token(), name)

    # --- HTTP control: /_sandbox/... ---------------------------------------------------------
    def serve_media(self, directory: Path) -> str:
        """Host the files of ``directory`` at ``/_sandbox/media/NAME``, standing in for the office's web
        server that Instagram fetches images from (an account's media_base_url). Returns that base URL."""
        self.media_dirs.append(Path(directory))
        return f"{self.base_url}/_sandbox/media"

    def _media(self, name: str) -> Response:
        from urllib.parse import unquote

        name = unquote(name)
        if "/" in name or name.startswith("."):
            return Response(404, {"error": "not found"})
        for directory in self.media_dirs:
            path = directory / name
            if path.is_file():
                kind = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
                        ".html": "text/html; charset=utf-8"}.get(
                    path.suffix.lower(), "application/octet-stream")
                return Response(200, path.read_bytes(), {"Content-Type": kind})
        return Response(404, {"error": f"no media file {name!r}"})

    def control(self, request: Request) -> Response:
        action = request.path.removeprefix("/_sandbox/").strip("/")
        if request.method in ("GET", "HEAD") and action.startswith("media/"):
            return self._media(action.removeprefix("media/"))
        if request.method == "GET" and action == "posts":
            return Response(200, self.posts())
        if request.method == "GET" and action == "requests":
            with self.state.lock:
                return Response(200, {"requests": list(self.state.requests)})
        if request.method == "POST" and action == "faults":
            body = request.json()
            try:
                for rule in body.get("rules", []):
                    self.add_fault(**rule)
                if "random_rate" in body:
                    self.state.random_fault_rate = float(body["random_rate"])
            except (TypeError, ValueError) as exc:
                return Response(400, {"error": str(exc)})
            return Response(200, {"ok": True})
        if request.method == "DELETE" and action == "faults":
            self.clear_faults()
            return Response(200, {"ok": True})
        if request.method == "POST" and action == "burst":
            body = request.json()
            self.state.add_burst(body["keyword"], int(body.get("count", 50)))
            return Response(200, {"ok": True})
        if request.method == "GET" and action == "health":
            return Response(200, {"ok": True, "platforms": [e.name for e in self.emulators]})
        return Response(404, {"error": f"unknown sandbox control {request.method} {request.path}"})
