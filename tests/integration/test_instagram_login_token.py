"""A token of "Instagram API with Instagram Login" (graph.instagram.com, beginning with "IG") is refused for an
instagram account, with the command that connects it through Facebook Login instead."""

from __future__ import annotations

from typer.testing import CliRunner

from planner.cli.main import build_app
from planner.sandbox.workspace import SANDBOX_SECRETS, write_sandbox_config

IG_LOGIN_TOKEN = "IGAAJexampleInstagramLoginToken0001"
CONNECT = "planner account connect {} --platform instagram"


def cli(config, *args):
    return CliRunner().invoke(build_app(), ["--config", str(config), "--lang", "id", *args], catch_exceptions=False)


def test_account_add_refuses_an_instagram_login_token(sandbox, tmp_path, monkeypatch):
    config = write_sandbox_config(tmp_path, sandbox.base_url)
    before = config.read_text("utf-8")
    monkeypatch.setenv("HUMAS_IG_BARU_TOKEN", IG_LOGIN_TOKEN)
    result = cli(config, "account", "add", "ig_baru", "--platform", "instagram",
                 "--credential", "access_token=env:HUMAS_IG_BARU_TOKEN", "--option", "ig_user_id=17841400000000001",
                 "--option", "media_base_url=https://kab-demak.kpu.go.id/media")
    said = " ".join(result.output.split())
    assert result.exit_code != 0 and "Instagram API with Instagram Login" in said, said
    assert CONNECT.format("ig_baru") in said and IG_LOGIN_TOKEN not in said
    assert config.read_text("utf-8") == before  # nothing written


def test_account_add_takes_a_reference_not_set_yet_and_a_page_token(sandbox, tmp_path, monkeypatch):
    config = write_sandbox_config(tmp_path, sandbox.base_url)
    monkeypatch.delenv("HUMAS_IG_BARU_TOKEN", raising=False)
    added = cli(config, "account", "add", "ig_baru", "--platform", "instagram",
                "--credential", "access_token=env:HUMAS_IG_BARU_TOKEN", "--option", "ig_user_id=17841400000000001",
                "--option", "media_base_url=https://kab-demak.kpu.go.id/media")
    assert added.exit_code == 0, added.output


def test_account_check_refuses_an_instagram_login_token_in_the_config(sandbox, tmp_path, monkeypatch):
    for name, value in SANDBOX_SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HUMAS_SANDBOX_IG_TOKEN", IG_LOGIN_TOKEN)
    config = write_sandbox_config(tmp_path, sandbox.base_url)
    result = cli(config, "account", "check", "kpu_ig")
    said = " ".join(result.output.split())
    assert result.exit_code != 0 and "✗ kpu_ig" in said, said
    assert "graph.instagram.com" in said and CONNECT.format("kpu_ig") in said and IG_LOGIN_TOKEN not in said
    assert not [r for r in sandbox.state.requests if r["platform"] == "graph"]  # refused before any request


def test_a_literal_instagram_login_token_in_the_config_is_refused_on_load(sandbox, tmp_path):
    config = write_sandbox_config(tmp_path, sandbox.base_url)
    config.write_text(config.read_text("utf-8").replace('access_token = "env:HUMAS_SANDBOX_IG_TOKEN"',
                                                        f'access_token = "{IG_LOGIN_TOKEN}"'), "utf-8")
    result = cli(config, "account", "list")
    said = " ".join(result.output.split())
    assert result.exit_code != 0 and CONNECT.format("kpu_ig") in said, said
