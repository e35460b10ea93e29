"""nginx in front of several Rasa servers: the configuration ``shopbot deploy nginx`` prints and
the load-balancer test runs.

No sticky sessions are needed: every Rasa server reads and writes the same tracker store
(PostgreSQL) under the same lock store (Redis), the storefront speaks socket.io over websockets
only, and its session ids are signed, so any server can take any turn. nginx passes a request to
the next server only when it could not be sent (a server down): a turn that reached a server
that then died is not sent twice; the client retries it (tests/e2e/test_balancer.py).
"""

from __future__ import annotations

from pathlib import Path

# Biggest request body passed on (the channels refuse more themselves, with a clear error).
MAX_BODY = "256k"


def nginx_config(
    upstreams: list[str],
    listen: str,
    *,
    prefix: Path | None = None,
    user: str | None = None,
) -> str:
    """An nginx.conf balancing ``upstreams`` (``host:port`` of each Rasa server) on ``listen``.

    ``prefix``: a folder for nginx's pid, logs and temporary files (to run it unprivileged, as
    the tests do); default: the system's. ``user``: the workers' user when started as root."""
    if not upstreams:
        raise ValueError("at least one Rasa server is needed")
    servers = "\n".join(f"    server {u} max_fails=1 fail_timeout=5s;" for u in upstreams)
    paths = ""
    head = f"user {user};\n" if user else ""
    if prefix is not None:
        head += f"pid {prefix}/nginx.pid;\nerror_log {prefix}/error.log warn;\n"
        paths = "\n".join(
            f"  {name}_temp_path {prefix}/{name};"
            for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        paths += f"\n  access_log {prefix}/access.log shopbot;\n"
    return f"""# Written by `shopbot deploy nginx`: nginx in front of {len(upstreams)} Rasa server(s).
{head}worker_processes auto;
events {{ worker_connections 1024; }}
http {{
  # Which Rasa server answered each request (the last one tried, after a failed connection).
  log_format shopbot '$remote_addr [$time_local] "$request" $status $request_time '
                     'upstream=$upstream_addr';
{paths}  upstream rasa {{
{servers}
    keepalive 32;
  }}
  map $http_upgrade $connection_upgrade {{ default upgrade; "" close; }}
  server {{
    listen {listen};
    client_max_body_size {MAX_BODY};
    location / {{
      proxy_pass http://rasa;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      # Only requests that never reached a server go to the next one (never a turn twice).
      proxy_next_upstream error timeout http_502 http_503;
      proxy_connect_timeout 2s;
      proxy_read_timeout 120s;
      proxy_send_timeout 120s;
    }}
  }}
}}
"""
