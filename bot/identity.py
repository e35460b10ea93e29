"""Who is chatting: a customer proven by the session token the shop's website signs, or a member
of staff on a staff channel.

The storefront page sends the token in the message metadata. Metadata comes from the browser and
is untrusted, and Rasa checks the socket.io JWT only when the socket connects, so the action
server verifies the signature, issuer and expiry of every token itself, here.

Tokens are JWTs signed with HS256 and the secret ``SHOPBOT_SESSION_SECRET``; claims: ``sub``
(the customer id as a string), ``iat``, ``exp`` and ``iss="shopbot"``.

Staff questions are answered only on a staff channel, only for allowed staff:

- ``slack``: the Slack user id (put into the metadata by our signed-request-checking Slack
  channel) must be in ``SHOPBOT_STAFF_SLACK_USERS`` (comma-separated ids);
- ``staff``: the local staff console; the channel itself demands ``SHOPBOT_STAFF_CONSOLE_TOKEN``.

Everything else (REST, socket.io, the storefront) is a customer channel and gets no staff data.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Mapping
from typing import Any

import jwt

from shop import settings

log = logging.getLogger(__name__)

ISSUER = "shopbot"
ALGORITHM = "HS256"
# Clocks of the website and the action server may differ a little.
LEEWAY_SECONDS = 30
# A real token is a few hundred bytes; refusing huge inputs early keeps a hostile client from
# making us decode megabytes of base64.
MAX_TOKEN_LENGTH = 4096
METADATA_KEY = "session_token"
# Message metadata only shopbot's channels set (never taken from a client): the client's address
# as the channel saw it, and (in stored conversations) the customer a session token named.
CLIENT_ADDRESS_KEY = "client_address"
SESSION_CUSTOMER_KEY = "session_customer"

_warned_no_secret = False


def _secret(secret: str | None) -> str | None:
    """The secret given, else the one from the environment, else None."""
    if secret:
        return secret
    return settings.SESSION_SECRET.get()


def issue_token(
    customer_id: int,
    *,
    secret: str | None = None,
    ttl_seconds: int = 3600,
    now: float | None = None,
) -> str:
    """A signed session token for ``customer_id`` valid for ``ttl_seconds`` (what the site does)."""
    key = _secret(secret)
    if not key:
        raise RuntimeError(
            f"{settings.SESSION_SECRET.name} is not set; cannot sign session tokens."
        )
    if isinstance(customer_id, bool) or not isinstance(customer_id, int) or customer_id <= 0:
        raise ValueError(f"customer_id must be a positive integer, got {customer_id!r}")
    issued = int(time.time() if now is None else now)
    claims = {
        "sub": str(customer_id),
        "iat": issued,
        "exp": issued + int(ttl_seconds),
        "iss": ISSUER,
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def verify_token(token: Any, *, secret: str | None = None, now: float | None = None) -> int | None:
    """The customer id a valid token names, or None for anything invalid (never raises)."""
    global _warned_no_secret
    key = _secret(secret)
    if not key:
        if not _warned_no_secret:
            log.warning(
                "%s is not set: every customer session token is rejected.",
                settings.SESSION_SECRET.name,
            )
            _warned_no_secret = True
        return None
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        # Signature and required claims are checked by PyJWT; time claims are checked below
        # against ``now`` so that tests (and callers) can pin the clock.
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={
                "require": ["sub", "exp", "iat", "iss"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except Exception:  # any malformed, forged or foreign token: not a customer
        return None
    current = time.time() if now is None else now
    exp, iat, sub = claims.get("exp"), claims.get("iat"), claims.get("sub")
    if not _is_number(exp) or not _is_number(iat):
        return None
    if current > exp + LEEWAY_SECONDS or iat > current + LEEWAY_SECONDS:
        return None
    nbf = claims.get("nbf")
    if nbf is not None and (not _is_number(nbf) or nbf > current + LEEWAY_SECONDS):
        return None
    if not isinstance(sub, str) or not sub.isascii() or not sub.isdigit() or len(sub) > 18:
        return None
    customer_id = int(sub)
    return customer_id if customer_id > 0 else None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def customer_from_metadata(
    metadata: Any, *, secret: str | None = None, now: float | None = None
) -> int | None:
    """The verified customer id from message metadata, or None (guest or anything malformed).

    Looks at ``metadata["session_token"]`` (REST clients) and
    ``metadata["customData"]["session_token"]`` (the socket.io widget puts customData there).
    """
    if not isinstance(metadata, Mapping):
        return None
    token = metadata.get(METADATA_KEY)
    if token is None:
        custom = metadata.get("customData")
        if isinstance(custom, Mapping):
            token = custom.get(METADATA_KEY)
    return verify_token(token, secret=secret, now=now)


# ---- staff ------------------------------------------------------------------------------------

SLACK_CHANNEL = "slack"
CONSOLE_CHANNEL = "staff"
REFUSAL = (
    "Sorry, I can only answer questions about stock, forecasts, reordering, segments and sales "
    "for shop staff on the staff channel."
)


def allowed_slack_users() -> frozenset[str]:
    return frozenset(settings.STAFF_SLACK_USERS.items())


STAFF_CHANNELS = frozenset({SLACK_CHANNEL, CONSOLE_CHANNEL})
"""The team's channels: nobody there is a customer, allowed to ask or not."""


def is_staff(input_channel: str | None, metadata: dict[str, Any] | None) -> bool:
    """True only for an allowed Slack user on Slack, or anyone on the authenticated console."""
    metadata = metadata if isinstance(metadata, dict) else {}
    if input_channel == CONSOLE_CHANNEL:
        return True
    if input_channel == SLACK_CHANNEL:
        user = metadata.get("slack_user")
        return isinstance(user, str) and user in allowed_slack_users()
    return False


# ---- where a message comes from ---------------------------------------------------------------


def _networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for item in settings.TRUSTED_PROXIES.items():
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            log.warning(
                "%s: %r is not an address or network; ignored", settings.TRUSTED_PROXIES.name, item
            )
    return networks


def _trusted(address: str, networks: list) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(peer: str | None, forwarded_for: str | None = None) -> str | None:
    """The client's address: the peer of the connection, unless that peer is a trusted proxy
    (``SHOPBOT_TRUSTED_PROXIES``); then the nearest address in ``X-Forwarded-For`` that is not
    a trusted proxy itself. A header from anyone else is ignored: clients can write anything."""
    peer = (peer or "").strip() or None
    if peer is None:
        return None
    networks = _networks()
    if not forwarded_for or not _trusted(peer, networks):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return hop[:64]
    return hops[0][:64] if hops else peer
