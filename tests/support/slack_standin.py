"""A local stand-in for the Slack Web API: records every call the bot makes and answers like
Slack does (chat.postMessage with a fresh ts each, chat.postEphemeral, users.info from
``users``, and the three-step files_upload_v2 flow)."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    body: bytes = b""


@dataclass
class SlackStandIn:
    server: ThreadingHTTPServer
    calls: list[Call] = field(default_factory=list)
    uploads: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Cleared by hold(): chat.postMessage answers only once it is set again (or after 60 s).
    open_gate: threading.Event = field(default_factory=threading.Event)
    # users.info answers: user id -> display name.
    users: dict[str, str] = field(default_factory=dict)
    _ts_counter: int = 0

    def next_ts(self) -> str:
        """A Slack message timestamp, distinct for every message posted."""
        with self.lock:
            self._ts_counter += 1
            return f"{int(time.time())}.{self._ts_counter:06d}"

    def __post_init__(self) -> None:
        self.open_gate.set()

    def hold(self) -> None:
        """Makes chat.postMessage wait (up to 60 s) until :meth:`release`, like a slow Slack."""
        self.open_gate.clear()

    def release(self) -> None:
        self.open_gate.set()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/api/"

    def record(self, call: Call) -> None:
        with self.lock:
            self.calls.append(call)

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [
                c.params
                for c in self.calls
                if c.method == "chat.postMessage"
                and (channel is None or c.params.get("channel") == channel)
            ]

    def wait_for(self, predicate, timeout: float = 60.0) -> list[Call]:
        """Waits until predicate(calls) is truthy; returns the calls."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                calls = list(self.calls)
            if predicate(calls):
                return calls
            time.sleep(0.2)
        raise AssertionError(f"Slack stand-in: condition not met in {timeout} s; calls: {calls}")

    def clear(self) -> None:
        with self.lock:
            self.calls.clear()
            self.uploads.clear()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _parse(headers, body: bytes) -> dict[str, Any]:
    ctype = headers.get("Content-Type", "")
    if "json" in ctype:
        return json.loads(body or b"{}")
    params = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace")).items()}
    for key in ("blocks", "files"):
        if isinstance(params.get(key), str):
            try:
                params[key] = json.loads(params[key])
            except ValueError:
                pass
    return params


def start_slack_standin() -> SlackStandIn:
    holder: dict[str, SlackStandIn] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _reply(self, payload: dict[str, Any], status: int = 200) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # slack_sdk calls users.info with GET
            self.do_POST()

        def do_POST(self):
            stand_in = holder["s"]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = urllib.parse.urlparse(self.path).path
            if path.startswith("/upload/"):
                file_id = path.rsplit("/", 1)[-1]
                with stand_in.lock:
                    stand_in.uploads[file_id] = body
                stand_in.record(Call("upload", {"file_id": file_id}, body))
                self._reply({"ok": True})
                return
            method = path.removeprefix("/api/")
            # slack_sdk sends some methods' arguments in the query string, others in the body.
            query = urllib.parse.urlparse(self.path).query.encode()
            params = {**_parse({}, query), **_parse(self.headers, body)}
            stand_in.record(Call(method, params))
            if method == "files.getUploadURLExternal":
                file_id = f"F{len(stand_in.calls):06d}"
                port = self.server.server_port
                self._reply(
                    {
                        "ok": True,
                        "file_id": file_id,
                        "upload_url": f"http://127.0.0.1:{port}/upload/{file_id}",
                    }
                )
            elif method == "files.completeUploadExternal":
                files = params.get("files") or []
                self._reply(
                    {
                        "ok": True,
                        "files": [{"id": f.get("id"), "title": f.get("title")} for f in files],
                    }
                )
            elif method == "chat.postMessage":
                stand_in.open_gate.wait(timeout=60)
                ts = stand_in.next_ts()
                params["_ts"] = ts  # the ts this stand-in gave the message (tests read it)
                self._reply({"ok": True, "channel": params.get("channel"), "ts": ts})
            elif method == "users.info":
                user = params.get("user")
                name = stand_in.users.get(user)
                if name is None:
                    self._reply({"ok": False, "error": "user_not_found"})
                else:
                    profile = {"display_name": name, "real_name": f"{name} Tester"}
                    self._reply({"ok": True, "user": {"id": user, "profile": profile}})
            else:
                self._reply({"ok": True})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stand_in = SlackStandIn(server)
    holder["s"] = stand_in
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return stand_in
