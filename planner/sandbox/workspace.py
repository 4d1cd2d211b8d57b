"""A working folder wired to the sandbox: used by the demo, the tests and the benchmarks."""

from __future__ import annotations

import os
from pathlib import Path

# Sandbox credentials (they only open the local emulator), given through the environment like real ones.
SANDBOX_SECRETS = {
    "HUMAS_SANDBOX_X_TOKEN": "sandbox-x-user-token-0001",
    "HUMAS_SANDBOX_FB_TOKEN": "sandbox-fb-page-token-0001",
    "HUMAS_SANDBOX_IG_TOKEN": "sandbox-ig-token-0001",
    "HUMAS_SANDBOX_MASTODON_TOKEN": "sandbox-mastodon-token-0001",
    "HUMAS_SANDBOX_BLUESKY_PASSWORD": "sandbox-app-password-0001",
    "HUMAS_SANDBOX_TELEGRAM_TOKEN": "123456789:AAsandboxTelegramBotToken0001abcdef",
}


def sandbox_accounts_toml(base_url: str, suffix: str = "") -> str:
    """The six example accounts (kpu_x, kpu_fb, ...) pointed at the sandbox."""
    return f"""
[accounts.kpu_x{suffix}]
platform = "x"
handle = "kpudemak{suffix}"
api_base_url = "{base_url}"
[accounts.kpu_x{suffix}.credentials]
bearer_token = "env:HUMAS_SANDBOX_X_TOKEN"

[accounts.kpu_fb{suffix}]
platform = "facebook"
handle = "KPUKabDemak"
page_id = "100000000000001"
api_base_url = "{base_url}"
[accounts.kpu_fb{suffix}.credentials]
page_access_token = "env:HUMAS_SANDBOX_FB_TOKEN"

[accounts.kpu_ig{suffix}]
platform = "instagram"
handle = "kpu_demak"
ig_user_id = "17841400000000001"
media_base_url = "https://kab-demak.kpu.go.id/media"
api_base_url = "{base_url}"
[accounts.kpu_ig{suffix}.credentials]
access_token = "env:HUMAS_SANDBOX_IG_TOKEN"

[accounts.kpu_mastodon{suffix}]
platform = "mastodon"
handle = "kpudemak"
api_base_url = "{base_url}"
[accounts.kpu_mastodon{suffix}.credentials]
access_token = "env:HUMAS_SANDBOX_MASTODON_TOKEN"

[accounts.kpu_bluesky{suffix}]
platform = "bluesky"
handle = "kpudemak.bsky.social"
api_base_url = "{base_url}"
[accounts.kpu_bluesky{suffix}.credentials]
app_password = "env:HUMAS_SANDBOX_BLUESKY_PASSWORD"

[accounts.kpu_telegram{suffix}]
platform = "telegram"
handle = "kpudemak"
chat_id = "@kpudemak"
api_base_url = "{base_url}"
[accounts.kpu_telegram{suffix}.credentials]
bot_token = "env:HUMAS_SANDBOX_TELEGRAM_TOKEN"
"""


def write_sandbox_config(directory: Path, base_url: str, *, extra: str = "", publishing: str = "") -> Path:
    """config.toml in ``directory`` with the example accounts on the sandbox."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.toml"
    text = f'database = "planner.db"\ntimezone = "Asia/Jakarta"\nlanguage = "id"\n{extra}\n'
    publishing = publishing or 'grace = "2h"'
    text += f"[publishing]\n{publishing}\n" + sandbox_accounts_toml(base_url)
    path.write_text(text, "utf-8")
    path.chmod(0o600)
    return path


def export_sandbox_secrets(environ=os.environ) -> dict:
    environ.update(SANDBOX_SECRETS)
    return environ
