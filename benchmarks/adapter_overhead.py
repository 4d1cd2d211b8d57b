"""Target 3: adapter overhead per publish against a zero-latency sandbox <= 5 ms (median) beyond the
HTTP round trip.

Method (see docs/benchmarks.md):

1. The sandbox runs in this process (latency 0). Its request handler is wrapped to record, per
   request, the server time from the start of handling (after the request line and headers were
   parsed) to the last byte of the answer written: the "platform's" own processing.
2. For each account (kpu_x, kpu_fb, kpu_ig, kpu_mastodon, kpu_bluesky, kpu_telegram) an adapter is
   made with planner.platforms.make_adapter(planner.accounts.resolve.resolve_account(config, name)), warmed up
   (connection, Bluesky login, Mastodon version discovery), then publishes N distinct text posts
   (Instagram always needs an image: its posts carry one, as a URL; at most 45 of them, as the
   sandbox enforces Instagram's 50 posts per 24 h) and M posts with one 55 kB image (the Mastodon
   image posts use a second token: Mastodon allows 300 requests per 5 minutes per token).
   Wall time of each publish(), the requests it made and their server times are recorded. Sleeps
   the adapter makes because the platform said "still processing" (Instagram container polling,
   Mastodon media processing) are recorded by wrapping the adapter module's time.sleep.
3. The bare HTTP round trip costs per request are measured with the raw HTTP library the adapter
   uses (a keep-alive requests.Session or httpx.Client) sending a POST of similar size (JSON or form
   body ~300 bytes; multipart 55 kB for uploads) to a sandbox path with no route (404 after reading
   the body): transport = round trip - its server time.
4. overhead per publish = wall - sum(server time of its requests) - requests x transport - platform
   waits. Reported as the median over the N posts, per publish and per request.
5. Instagram and Mastodon-with-image publishes sleep while the platform processes the media (the
   sandbox answers "in progress" to the first poll). After such a sleep of 100-250 ms everything on
   this machine runs measurably slower for a while (server time of the same requests triples), so
   those rows are run twice: with the real sleeps ("info", shown) and with the adapter's sleeps
   made no-ops ("nowait": the sandbox marks media ready by poll count, so the requests are the
   same). The verdict uses the "nowait" rows for those two, and every other row as measured.

A cross-check for the one-request text publishes (X, Facebook, Mastodon, Telegram): the exact
recorded requests (method, path, headers, body) are replayed with a raw requests.Session against
a second, fresh sandbox (so no duplicate detection kicks in); "replay" is their median round trip,
and "wall - replay" an independent estimate of the overhead.

    python benchmarks/adapter_overhead.py [--posts 200] [--media-posts 30]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, finish, header, median, percentile, verdict, workspace  # noqa: E402

TARGET_MS = 5.0
IG_QUOTA = 50
ACCOUNTS = ["kpu_x", "kpu_fb", "kpu_ig", "kpu_mastodon", "kpu_bluesky", "kpu_telegram"]
HTTP_LIBRARY = {"kpu_x": "requests", "kpu_fb": "requests", "kpu_ig": "requests", "kpu_mastodon": "requests",
                "kpu_bluesky": "httpx", "kpu_telegram": "httpx"}
IMAGE = REPO / "campaigns" / "media" / "cek-dpt-langkah.jpg"


class ServerClock:
    """Wraps the sandbox's request handler to time each request on the server side."""

    def __init__(self):
        self.records: list[tuple[str, str, float]] = []
        self.lock = threading.Lock()

    def install(self):
        from planner.sandbox import core

        original = core._HTTPHandler._handle
        clock = self

        def timed(handler):
            start = time.perf_counter()
            original(handler)
            elapsed = time.perf_counter() - start
            with clock.lock:
                clock.records.append((handler.command, handler.path.split("?")[0], elapsed))

        core._HTTPHandler._handle = timed
        core._HTTPHandler.do_GET = core._HTTPHandler.do_POST = timed
        core._HTTPHandler.do_PUT = core._HTTPHandler.do_DELETE = timed

    def mark(self) -> int:
        with self.lock:
            return len(self.records)

    def since(self, mark: int, expected: int | None = None) -> list[tuple[str, str, float]]:
        """Records after ``mark``; waits briefly for the server thread to file the last one."""
        deadline = time.perf_counter() + 0.5
        while True:
            with self.lock:
                found = self.records[mark:]
            if expected is None or len(found) >= expected or time.perf_counter() > deadline:
                return found
            time.sleep(0.0002)


class SleepRecorder:
    """Stands in for the ``time`` module inside an adapter module, adding up its sleeps."""

    def __init__(self, real):
        self._real = real
        self.slept = 0.0
        self.skip = False  # True: return at once (the sandbox decides readiness by poll count anyway)

    def sleep(self, seconds):
        if self.skip:
            return
        start = time.perf_counter()
        self._real.sleep(seconds)
        self.slept += time.perf_counter() - start

    def __getattr__(self, name):
        return getattr(self._real, name)


def transport_costs(base_url: str, clock: ServerClock, sandbox, rounds: int = 300) -> dict[str, float]:
    """Seconds per request spent outside the server handler, for each raw HTTP library and body kind."""
    import httpx
    import requests

    body = {"status": "Informasi pemilu " * 12, "visibility": "public", "idempotency_key": "x" * 40}
    image = IMAGE.read_bytes()
    costs = {}
    session = requests.Session()
    client = httpx.Client()
    url = base_url + "/_bench/noop"
    cases = {
        "requests json": lambda: session.post(url, json=body),
        "requests form": lambda: session.post(url, data=body),
        "requests multipart": lambda: session.post(url, files={"file": ("a.jpg", image, "image/jpeg")}),
        "httpx json": lambda: client.post(url, json=body),
        "httpx multipart": lambda: client.post(url, files={"file": ("a.jpg", image, "image/jpeg")}),
    }
    for name, send in cases.items():
        samples = []
        for i in range(rounds + 10):
            mark = clock.mark()
            start = time.perf_counter()
            send()
            wall = time.perf_counter() - start
            server = sum(r[2] for r in clock.since(mark, 1))
            if i >= 10:
                samples.append(wall - server)
        costs[name] = median(samples)
    session.close()
    client.close()
    return costs


def replay_round_trips(records: list[dict], base_url: str, secrets: list[str]) -> list[float]:
    """Send recorded requests again with a raw keep-alive requests.Session, unchanged but for the account's
    credentials, which the sandbox's log holds masked (a Telegram bot token is in the path itself)."""
    import requests

    from planner.sandbox.core import redacted

    masks = {redacted(secret): secret for secret in secrets}

    def unmask(text: str) -> str:
        for mask, secret in masks.items():
            text = text.replace(mask, secret)
        return text

    session = requests.Session()
    times = []
    skip = {"host", "content-length", "connection", "accept-encoding", "user-agent", "accept"}
    for i, record in enumerate(records):
        headers = {k: unmask(v) for k, v in record["headers"].items() if k not in skip}
        query = "&".join(f"{k}={unmask(v)}" for k, values in record["query"].items() for v in values)
        url = base_url + unmask(record["path"]) + (f"?{query}" if query else "")
        start = time.perf_counter()
        response = session.request(record["method"], url, headers=headers, data=unmask(record["body"]).encode())
        elapsed = time.perf_counter() - start
        if response.status_code >= 400:
            raise SystemExit(f"replay of {record['method']} {record['path']} answered {response.status_code}: "
                             f"{response.text[:300]}")
        if i >= 5:
            times.append(elapsed)
    session.close()
    return times


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=200, help="text posts per account")
    parser.add_argument("--media-posts", type=int, default=30, help="posts with one image per account")
    args = parser.parse_args()
    header("adapter overhead per publish, zero-latency sandbox")

    from planner.accounts.resolve import resolve_account, resolve_secret
    from planner.config import load_config
    from planner.platforms import make_adapter
    from planner.platforms import instagram as ig_module
    from planner.platforms import mastodon as mastodon_module
    from planner.platforms.base import OutgoingPost
    from planner.sandbox import Sandbox
    from planner.sandbox.workspace import export_sandbox_secrets, write_sandbox_config

    export_sandbox_secrets(os.environ)
    clock = ServerClock()
    clock.install()
    sleepers = {"kpu_ig": SleepRecorder(ig_module.time), "kpu_mastodon": SleepRecorder(mastodon_module.time)}
    ig_module.time = sleepers["kpu_ig"]
    mastodon_module.time = sleepers["kpu_mastodon"]

    failed = False
    with Sandbox(latency_ms=0, seed=3) as sandbox, Sandbox(latency_ms=0, seed=3) as replay_box:
        directory = workspace("adapters")
        config_path = write_sandbox_config(directory, sandbox.base_url)
        config = load_config(config_path)
        transport = transport_costs(sandbox.base_url, clock, sandbox)
        print("   bare transport per request (raw library, keep-alive; round trip minus server time):")
        for name, cost in transport.items():
            print(f"     {name:20s} {cost * 1000:6.3f} ms")
        print(f"   posts per account: {args.posts} text, {args.media_posts} with a 55 kB image "
              f"(Instagram: at most {IG_QUOTA - 5}, its 24-hour quota less the warm-up; every post has an "
              "image, given as a URL)")
        print()
        print("   account       kind        req   wall  server transp  waits | overhd    p90 per-req"
              "        | replay wall-replay")
        for name in ACCOUNTS:
            library = HTTP_LIBRARY[name]
            sleeper = sleepers.get(name)
            # (label, posts, media?, waits skipped?, account changes). Instagram allows 50 API posts per
            # account per 24 h and Mastodon 300 requests per 5 minutes per token (both enforced by the
            # sandbox): each variant of theirs uses its own account id / token.
            if name == "kpu_ig":
                variants = [("image", min(args.posts, IG_QUOTA - 5), True, False, {}),
                            ("image nowait", min(args.posts, IG_QUOTA - 5), True, True,
                             {"options": {"ig_user_id": "17841400000000002"}})]
            elif name == "kpu_mastodon":
                variants = [("text", args.posts, False, False, {}),
                            ("image", args.media_posts, True, False,
                             {"credentials": {"access_token": "sandbox-mastodon-token-0002"}}),
                            ("image nowait", args.media_posts, True, True,
                             {"credentials": {"access_token": "sandbox-mastodon-token-0003"}})]
            else:
                variants = [("text", args.posts, False, False, {}), ("image", args.media_posts, True, False, {})]
            for kind, count, with_media, skip_waits, changes in variants:
                account = resolve_account(config, name)
                if "options" in changes:
                    changes = {"options": {**account.options, **changes["options"]}}
                adapter = make_adapter(dataclasses.replace(account, **changes))
                if sleeper:
                    sleeper.skip = skip_waits
                samples = []
                replayable = []
                for i in range(count + 5):  # 5 warm-up publishes
                    post = OutgoingPost(post_id=i, idempotency_key=f"bench:{name}:{kind}:{i}",
                                        text=f"Pengumuman {kind} nomor {i} untuk {name}: cek DPT Anda sekarang "
                                             f"juga di situs resmi KPU. Kode {i * 7919 % 100003:05d}.",
                                        media=(IMAGE,) if with_media else ())
                    if sleeper:
                        sleeper.slept = 0.0
                    logged = len(sandbox.state.requests)
                    mark = clock.mark()
                    start = time.perf_counter()
                    adapter.publish(post)
                    wall = time.perf_counter() - start
                    with sandbox.state.lock:
                        requests_made = sandbox.state.requests[logged:]
                    server = clock.since(mark, len(requests_made))
                    if i < 5:
                        continue
                    uploads = sum(1 for r in requests_made
                                  if r["headers"].get("content-type", "").startswith("multipart/"))
                    transport_total = ((len(server) - uploads) * transport[f"{library} json"]
                                       + uploads * transport[f"{library} multipart"])
                    waits = sleeper.slept if sleeper else 0.0
                    server_total = sum(r[2] for r in server)
                    samples.append({"wall": wall, "requests": len(server), "server": server_total,
                                    "transport": transport_total, "waits": waits,
                                    "overhead": wall - server_total - transport_total - waits})
                    if kind == "text" and len(requests_made) == 1:
                        replayable.append(requests_made[0])
                med = {key: median([s[key] for s in samples]) for key in samples[0]}
                overhead = [s["overhead"] for s in samples]
                per_req = median([s["overhead"] / s["requests"] for s in samples])
                replay_text = ""
                if kind == "text" and name in ("kpu_x", "kpu_fb", "kpu_mastodon", "kpu_telegram") \
                        and len(replayable) == len(samples):
                    secrets = [resolve_secret(ref, account=name, key=key, config_path=config_path)
                               for key, ref in account.credentials.items()]
                    replay_med = median(replay_round_trips(replayable, replay_box.base_url, secrets))
                    replay_text = f"| {replay_med * 1000:6.2f}  {(med['wall'] - replay_med) * 1000:6.2f}"
                # Rows whose adapter really sleeps for the platform are judged on the run with the sleeps
                # skipped (see the module docstring); the run with real sleeps is shown for information.
                judged = not (sleeper and med["waits"] > 0)
                ok = median(overhead) * 1000 <= TARGET_MS
                if judged:
                    failed |= not ok
                mark_text = ("ok  " if ok else "OVER") if judged else "info"
                print(f"   {name:13s} {kind:12s} {med['requests']:3.0f}  {med['wall'] * 1000:7.2f} "
                      f"{med['server'] * 1000:6.2f} {med['transport'] * 1000:6.2f} {med['waits'] * 1000:6.1f} | "
                      f"{median(overhead) * 1000:6.2f} {percentile(overhead, 90) * 1000:6.2f} {per_req * 1000:6.2f}"
                      f"  {mark_text} {replay_text}")
                close = getattr(adapter, "close", None)
                if close:
                    close()
    print("   (all times ms; medians over the posts; overhead = wall - server - transport - waits)")
    finish(directory, True)
    return verdict(not failed, "adapter_overhead")


if __name__ == "__main__":
    sys.exit(main())
