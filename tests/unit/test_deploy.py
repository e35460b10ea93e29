"""The several-server deployment's configuration: nginx accepts what `shopbot deploy nginx`
writes, and it never sends a turn to a second server once it reached one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.server.balancer import nginx_config
from support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def test_nginx_accepts_the_configuration(tmp_path):
    assert os.path.exists(NGINX), "nginx is missing: run scripts/setup-nginx.sh"
    conf = nginx_config(
        ["127.0.0.1:5005", "127.0.0.1:5006"],
        f"127.0.0.1:{free_port()}",
        prefix=tmp_path,
        user="root" if os.geteuid() == 0 else None,
    )
    (tmp_path / "nginx.conf").write_text(conf)
    checked = subprocess.run(
        [NGINX, "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr
    assert conf.count("server 127.0.0.1:500") == 2
    # Requests go to the next server only when they never reached one (no turn twice), and
    # websockets are upgraded (socket.io).
    assert "proxy_next_upstream error timeout http_502 http_503;" in conf
    assert "non_idempotent" not in conf
    assert "proxy_set_header Upgrade $http_upgrade;" in conf


def test_the_cli_prints_it_and_refuses_bad_servers():
    shopbot = [sys.executable, "-m", "bot.cli.main"]
    ok = subprocess.run(
        [*shopbot, "deploy", "nginx", "--rasa", "10.0.0.2:5005,10.0.0.3:5005", "--listen", "80"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert ok.returncode == 0, ok.stderr
    assert "server 10.0.0.2:5005" in ok.stdout and "listen 80;" in ok.stdout
    bad = subprocess.run(
        [*shopbot, "deploy", "nginx", "--rasa", "10.0.0.2"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "host:port" in bad.stderr
    with pytest.raises(ValueError):
        nginx_config([], "80")
