"""A real PostgreSQL server for the tests, on 127.0.0.1, stopped when the test run ends.

``ESIGN_TEST_POSTGRES`` (set by ``.ci/run``) names a running server to use; otherwise the
Debian binaries (``initdb``, ``pg_ctl``) start a throw-away one in a temporary folder.
Each test gets its own schema, so tests never see each other's tables.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid

import pytest

_URL: str | None = None


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start() -> str:
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL binaries not installed (apt-get install postgresql)")
    folder = tempfile.mkdtemp(prefix="esign-pg-")
    data = os.path.join(folder, "data")
    prefix: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(folder, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    subprocess.run(
        [*prefix, initdb, "-D", data, "-A", "trust", "-U", "postgres"], check=True, **quiet
    )
    options = f"-h 127.0.0.1 -p {port} -k {folder} -c fsync=on -c max_connections=60"
    subprocess.run(
        [*prefix, pg_ctl, "-D", data, "-o", options, "-l", os.path.join(folder, "log"),
         "-w", "start"],
        check=True,
        **quiet,
    )  # fmt: skip

    def stop() -> None:
        subprocess.run([*prefix, pg_ctl, "-D", data, "-m", "immediate", "stop"], **quiet)
        shutil.rmtree(folder, ignore_errors=True)

    atexit.register(stop)
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def server_url() -> str:
    """The test server's URL (started on first use)."""
    global _URL
    pytest.importorskip("psycopg")
    if _URL is None:
        _URL = os.environ.get("ESIGN_TEST_POSTGRES") or _start()
    return _URL


def fresh_schema_url() -> str:
    """A URL whose tables land in a new, empty schema."""
    import psycopg

    base = server_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")  # type: ignore[call-overload]
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}options=-csearch_path%3D{schema}"
