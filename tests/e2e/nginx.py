"""nginx with ``proxy_cache`` in front of a server, on loopback, in a directory of its own: a
standard shared cache for the cache test and ``bench/scale.py``. Started as a foreground
process with its own configuration, never the system's nginx service."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CONF", "Nginx", "nginx_binary", "running_nginx"]

CONF = """
worker_processes 1;
daemon off;
# The worker writes the cache in this directory of the caller's: it runs as the caller's user.
user {user};
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format cache '$request_uri $upstream_cache_status $upstream_status';
    access_log {access_log};
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    proxy_cache_path {dir}/cache levels=1:2 keys_zone=ceasefire:1m;
    upstream origin {{
        server {origin};
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache ceasefire;
            # Expired entries are revalidated with their ETag (If-None-Match), not refetched.
            proxy_cache_revalidate on;
            # One request per key goes to the origin at a time; the others wait for it.
            proxy_cache_lock on;
            add_header X-Cache-Status $upstream_cache_status always;
        }}
    }}
}}
"""


@dataclass(frozen=True)
class Nginx:
    base_url: str
    directory: Path

    def upstream_statuses(self, path: str) -> list[tuple[str, str]]:
        """(cache status, origin status) of each request nginx logged for ``path``."""
        lines = (self.directory / "access.log").read_text().splitlines()
        return [
            (parts[1], parts[2]) for parts in (line.split() for line in lines) if parts[0] == path
        ]


def nginx_binary() -> str | None:
    return shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin")


@contextmanager
def running_nginx(origin: str, directory: Path, *, access_log: bool = True) -> Iterator[Nginx]:
    """nginx caching ``origin`` (``host:port``) on a free loopback port, until the block ends."""
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx is not installed (apt-get install nginx)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = f"{directory}/access.log cache" if access_log else "off"
    (directory / "nginx.conf").write_text(
        CONF.format(dir=directory, port=port, origin=origin, user=getpass.getuser(), access_log=log)
    )
    process = subprocess.Popen(
        [binary, "-p", str(directory), "-e", str(directory / "error.log"), "-c", "nginx.conf"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_listening(port, process, directory)
        yield Nginx(f"http://127.0.0.1:{port}", directory)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_listening(port: int, process: subprocess.Popen[bytes], directory: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited: {(directory / 'error.log').read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nginx did not listen")
