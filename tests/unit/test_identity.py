"""Session tokens of logged-in customers: only genuine, current, HS256 tokens name a customer."""

from __future__ import annotations

import base64
import json
import logging

import jwt
import pytest

from bot import identity
from bot.identity import customer_from_metadata, issue_token, verify_token

SECRET = "test-secret-" + "0123456789abcdef" * 4
NOW = 1_800_000_000.0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_round_trip():
    token = issue_token(42, secret=SECRET, now=NOW)
    assert verify_token(token, secret=SECRET, now=NOW + 10) == 42


def test_secret_from_environment(monkeypatch):
    monkeypatch.setenv("SHOPBOT_SESSION_SECRET", SECRET)
    token = issue_token(7)
    assert verify_token(token) == 7
    assert verify_token(token, secret="another-secret-entirely-0123456789") is None


def test_tampered_payload_rejected():
    token = issue_token(42, secret=SECRET, now=NOW)
    header, _payload, signature = token.split(".")
    forged = _b64(
        json.dumps({"sub": "1", "iat": int(NOW), "exp": int(NOW) + 3600, "iss": "shopbot"}).encode()
    )
    assert verify_token(f"{header}.{forged}.{signature}", secret=SECRET, now=NOW) is None


def test_wrong_secret_rejected():
    token = issue_token(42, secret="some-other-secret-0123456789abcdef", now=NOW)
    assert verify_token(token, secret=SECRET, now=NOW) is None


def test_expired_rejected_but_small_clock_skew_tolerated():
    token = issue_token(42, secret=SECRET, ttl_seconds=60, now=NOW)
    assert verify_token(token, secret=SECRET, now=NOW + 60 + 10) == 42  # within leeway
    assert verify_token(token, secret=SECRET, now=NOW + 60 + identity.LEEWAY_SECONDS + 1) is None
    # Issued in the future (beyond leeway): a forged or badly clocked token.
    assert verify_token(token, secret=SECRET, now=NOW - 3600) is None


def test_alg_none_rejected():
    claims = {"sub": "42", "iat": int(NOW), "exp": int(NOW) + 3600, "iss": "shopbot"}
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    unsigned = f"{header}.{_b64(json.dumps(claims).encode())}."
    assert verify_token(unsigned, secret=SECRET, now=NOW) is None
    assert verify_token(jwt.encode(claims, None, algorithm="none"), secret=SECRET, now=NOW) is None


def test_other_algorithm_rejected():
    claims = {"sub": "42", "iat": int(NOW), "exp": int(NOW) + 3600, "iss": "shopbot"}
    token = jwt.encode(claims, SECRET, algorithm="HS512")
    assert verify_token(token, secret=SECRET, now=NOW) is None


@pytest.mark.parametrize(
    "claims",
    [
        {"iat": int(NOW), "exp": int(NOW) + 3600, "iss": "shopbot"},  # no sub
        {"sub": "42", "iat": int(NOW), "iss": "shopbot"},  # no exp
        {"sub": "42", "exp": int(NOW) + 3600, "iss": "shopbot"},  # no iat
        {"sub": "42", "iat": int(NOW), "exp": int(NOW) + 3600},  # no iss
        {"sub": "42", "iat": int(NOW), "exp": int(NOW) + 3600, "iss": "someone-else"},
        {"sub": "abc", "iat": int(NOW), "exp": int(NOW) + 3600, "iss": "shopbot"},
        {"sub": "-3", "iat": int(NOW), "exp": int(NOW) + 3600, "iss": "shopbot"},
        {"sub": "0", "iat": int(NOW), "exp": int(NOW) + 3600, "iss": "shopbot"},
        {"sub": "42", "iat": int(NOW), "exp": int(NOW) + 3600, "iss": "shopbot", "aud": "x"},
        {"sub": "42", "iat": int(NOW), "exp": int(NOW) + 3600, "iss": "shopbot", "nbf": 2e9},
        {"sub": "42", "iat": "yesterday", "exp": int(NOW) + 3600, "iss": "shopbot"},
        {"sub": 42, "iat": int(NOW), "exp": int(NOW) + 3600, "iss": "shopbot"},
    ],
)
def test_missing_or_wrong_claims_rejected(claims):
    assert (
        verify_token(jwt.encode(claims, SECRET, algorithm="HS256"), secret=SECRET, now=NOW) is None
    )


@pytest.mark.parametrize(
    "garbage",
    ["", "not-a-token", "a.b.c", "....", None, 42, b"bytes", ["x"], {"t": 1}, "x" * 100_000],
)
def test_garbage_rejected(garbage):
    assert verify_token(garbage, secret=SECRET, now=NOW) is None


def test_no_secret_rejects_everything_and_warns_once(monkeypatch, caplog):
    monkeypatch.delenv("SHOPBOT_SESSION_SECRET", raising=False)
    monkeypatch.setattr(identity, "_warned_no_secret", False)
    token = issue_token(42, secret=SECRET, now=NOW)
    with caplog.at_level(logging.WARNING, logger="bot.identity"):
        assert verify_token(token, now=NOW) is None
        assert verify_token(token, now=NOW) is None
    warnings = [r for r in caplog.records if "SHOPBOT_SESSION_SECRET" in r.getMessage()]
    assert len(warnings) == 1
    with pytest.raises(RuntimeError, match="SHOPBOT_SESSION_SECRET"):
        issue_token(42)


def test_metadata_shapes():
    token = issue_token(42, secret=SECRET, now=NOW)
    kw = {"secret": SECRET, "now": NOW}
    assert customer_from_metadata({"session_token": token}, **kw) == 42
    assert customer_from_metadata({"customData": {"session_token": token}}, **kw) == 42
    assert customer_from_metadata({"customData": {"language": "en"}}, **kw) is None
    assert customer_from_metadata({"customData": "session_token"}, **kw) is None
    assert customer_from_metadata({"session_token": {"nested": token}}, **kw) is None
    assert customer_from_metadata({}, **kw) is None
    assert customer_from_metadata(None, **kw) is None
    assert customer_from_metadata("session_token=" + token, **kw) is None
    assert customer_from_metadata([token], **kw) is None
    assert customer_from_metadata({"session_token": token + "x"}, **kw) is None


# ---- the client's address ----------------------------------------------------------------------


def test_the_client_address_is_the_peer_unless_a_trusted_proxy_forwards(monkeypatch):
    from bot.identity import client_address

    monkeypatch.delenv("SHOPBOT_TRUSTED_PROXIES", raising=False)
    # Nobody is trusted: whatever a client writes in X-Forwarded-For is ignored.
    assert client_address("203.0.113.5", "1.2.3.4") == "203.0.113.5"
    assert client_address("127.0.0.1", "1.2.3.4") == "127.0.0.1"
    assert client_address(None, "1.2.3.4") is None
    monkeypatch.setenv("SHOPBOT_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8")
    assert client_address("127.0.0.1", "198.51.100.9") == "198.51.100.9"
    # The nearest untrusted hop: a client can prepend anything, not what our proxies appended.
    assert client_address("127.0.0.1", "6.6.6.6, 198.51.100.9, 10.1.2.3") == "198.51.100.9"
    assert client_address("127.0.0.1", "10.0.0.7") == "10.0.0.7"  # only proxies: the first
    assert client_address("203.0.113.5", "198.51.100.9") == "203.0.113.5"  # not a proxy of ours
    assert client_address("127.0.0.1", "") == "127.0.0.1"
