"""X's 24-hour caps, access level and credits, as X documents them, through tweepy to the sandbox."""

from __future__ import annotations

import time

import pytest

from planner.i18n import set_language
from planner.i18n.platform_errors import say
from planner.platforms import make_adapter
from planner.platforms.base import Account, CredentialsError, OutgoingPost, PermanentError, RetryableError

TOKEN = "tok-humas-jateng-51c2e0"


def x_adapter(sandbox):
    return make_adapter(Account("humas-jateng", "x", handle="humasjateng", api_base_url=sandbox.base_url,
                                credentials={"bearer_token": TOKEN}), timeout=5.0)


def post(text: str) -> OutgoingPost:
    return OutgoingPost(post_id=1, idempotency_key="k-" + text[:20], text=text)


def test_a_spent_24_hour_cap_waits_for_its_own_reset_not_the_15_minute_window(sandbox):
    sandbox.add_fault("daily_cap", platform="x", path=r"^/2/tweets$", method="POST", reset_in=3 * 3600)
    adapter = x_adapter(sandbox)
    with pytest.raises(RetryableError) as caught:
        adapter.publish(post("Batas harian tercapai"))
    # The answer's x-rate-limit-reset is 1 s away; the 24-hour reset three hours away is what counts.
    assert 3 * 3600 - 5 <= caught.value.retry_after <= 3 * 3600 + 1
    assert "account's 24-hour cap is reached on publish" in caught.value.message
    with pytest.raises(RetryableError):  # the cap holds until then
        adapter.publish(post("Batas harian tercapai"))
    assert sandbox.posts()["total"] == 0
    set_language("id")
    assert "batas 24 jam akun ini untuk publish sudah habis" in say(caught.value.message)


def test_the_cap_opens_at_its_reset_and_the_post_goes_out(sandbox):
    sandbox.add_fault("daily_cap", platform="x", path=r"^/2/tweets$", method="POST", reset_in=2)
    adapter = x_adapter(sandbox)
    with pytest.raises(RetryableError) as caught:
        adapter.publish(post("Dibuka lagi setelah reset"))
    time.sleep(caught.value.retry_after + 0.2)
    adapter.publish(post("Dibuka lagi setelah reset"))
    assert sandbox.posts()["total"] == 1


def test_client_forbidden_names_the_access_level_not_the_credentials(sandbox):
    sandbox.add_fault("client_forbidden", platform="x", path=r"^/2/tweets$", method="POST", count=1)
    with pytest.raises(PermanentError) as caught:
        x_adapter(sandbox).publish(post("Akses aplikasi kurang"))
    assert not isinstance(caught.value, CredentialsError)  # the adapter is not dropped; nobody is told to log in
    assert "access level" in caught.value.message and "attached to a Project" in caught.value.message
    assert "reconnecting the account does not help" in caught.value.message
    set_language("id")
    said = say(caught.value.message)
    assert "tingkat aksesnya" in said and "menyambungkan ulang akun tidak membantu" in said, said


def test_credits_depleted_says_credits(sandbox):
    sandbox.add_fault("credits_depleted", platform="x", path=r"^/2/tweets$", method="POST", count=1)
    with pytest.raises(PermanentError) as caught:
        x_adapter(sandbox).publish(post("Kredit habis"))
    assert not isinstance(caught.value, CredentialsError)
    assert caught.value.status == 402 and "no credits left" in caught.value.message
    set_language("id")
    assert "kredit akun pengembang X sudah habis" in say(caught.value.message)
    set_language("en")
    assert "add credits in the X developer console" in say(caught.value.message)
    set_language("id")
