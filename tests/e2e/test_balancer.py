"""nginx (Debian's package) in front of the two Rasa servers of ``pg_assistant`` (PostgreSQL
tracker store, Redis lock store, one action server), configured by ``shopbot deploy nginx``'s
renderer: 20 conversations at once through nginx while one Rasa server is stopped mid-run and
started again. Every conversation goes on with its history intact on the other server, no turn is
answered twice, failed in-flight turns are counted and retried by the client, and the restarted
server takes turns again."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.server.balancer import nginx_config
from support.servers import free_port

pytestmark = [pytest.mark.rasa, pytest.mark.postgres, pytest.mark.slow]

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CONVERSATIONS = 20
# A short conversation every customer has; each message is a turn of its own.
TURNS = ("hello", "where is my order?", "104233", "thanks", "what are your delivery times?", "bye")


@pytest.fixture(scope="module")
def nginx(pg_assistant, tmp_path_factory):
    if not os.path.exists(NGINX):
        pytest.fail("nginx is missing: run scripts/setup-nginx.sh")
    prefix = tmp_path_factory.mktemp("nginx")
    port = free_port()
    upstreams = [u.removeprefix("http://") for u in pg_assistant.rasa_urls]
    user = "root" if os.geteuid() == 0 else None
    (prefix / "nginx.conf").write_text(
        nginx_config(upstreams, f"127.0.0.1:{port}", prefix=prefix, user=user)
    )
    proc = subprocess.Popen(
        [NGINX, "-c", str(prefix / "nginx.conf"), "-p", str(prefix), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=open(prefix / "stderr.log", "w"),  # noqa: SIM115  (closed with the process)
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(url + "/", timeout=2).read()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise AssertionError((prefix / "stderr.log").read_text()) from None
            time.sleep(0.2)
    yield url, prefix
    proc.terminate()
    proc.wait(timeout=20)


def _say(url: str, sender: str, text: str) -> list[dict]:
    body = {"sender": sender, "message": text}
    req = urllib.request.Request(
        f"{url}/webhooks/rest/webhook",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=90) as resp:
        return json.loads(resp.read())


def test_conversations_go_on_when_a_rasa_server_dies_behind_nginx(pg_assistant, nginx):
    url, prefix = nginx
    failed_in_flight = []
    lock = threading.Lock()
    half = threading.Event()
    done_turns = [0]

    def conversation(k: int) -> tuple[str, list[list[dict]]]:
        sender = f"lb-{k}-{uuid.uuid4().hex[:8]}"
        replies = []
        for t, text in enumerate(TURNS):
            for attempt in range(5):
                try:
                    replies.append(_say(url, sender, text))
                    break
                except (urllib.error.HTTPError, urllib.error.URLError, TimeoutError) as err:
                    with lock:
                        failed_in_flight.append((sender, t, attempt, repr(err)))
                    time.sleep(1 + attempt)
            else:
                raise AssertionError(f"{sender} turn {t} failed 5 times")
            with lock:
                done_turns[0] += 1
                if done_turns[0] >= CONVERSATIONS * len(TURNS) // 3:
                    half.set()
        return sender, replies

    with ThreadPoolExecutor(CONVERSATIONS) as pool:
        futures = [pool.submit(conversation, k) for k in range(CONVERSATIONS)]
        assert half.wait(timeout=600), "the conversations did not get going"
        pg_assistant.stop_rasa(1)  # mid-run: server 2 goes away with whatever it was doing
        results = [f.result(timeout=900) for f in futures]

    try:
        for sender, replies in results:
            assert len(replies) == len(TURNS)
            assert all(r for r in replies), (sender, replies)  # every turn got an answer
            # The history is whole on the surviving server: each turn once, in order.
            tracker = pg_assistant.tracker(sender, server=0)
            said = [e.get("text") for e in tracker["events"] if e["event"] == "user"]
            assert said == list(TURNS), (sender, said)
        # The order status of turn 3 came from the conversation's own earlier turns.
        assert all("DHL" in json.dumps(r[2]) or "e-mail" in json.dumps(r[2]) for _, r in results)
        served = _served(prefix)
        assert sum(served.values()) >= CONVERSATIONS * len(TURNS)
        # Both servers took turns before one was stopped.
        assert len(served) == 2, served
        print(f"turns per server {served}; failed in flight and retried: {len(failed_in_flight)}")
    finally:
        pg_assistant.start_rasa(1)
    # The restarted server rejoins: nginx sends it turns again.
    second = pg_assistant.rasa_urls[1].removeprefix("http://")
    before = _served(prefix).get(second, 0)
    for i in range(10):
        assert _say(url, f"lb-new-{i}-{uuid.uuid4().hex[:6]}", "hello")
    assert _served(prefix).get(second, 0) > before, "the restarted server takes no turns"


def _served(prefix: Path) -> dict[str, int]:
    """REST turns answered by each Rasa server (``host:port``), from nginx's access log."""
    counts: dict[str, int] = {}
    for line in (prefix / "access.log").read_text().splitlines():
        if "/webhooks/rest/webhook" in line and " 200 " in line:
            upstream = line.rsplit(" upstream=", 1)[-1].split(",")[-1].strip()
            counts[upstream] = counts.get(upstream, 0) + 1
    return counts
