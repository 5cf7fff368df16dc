"""Progress bars on a real terminal (a pseudo-terminal as stderr), none when piped, and no
colour when ``NO_COLOR`` is set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Pki

SIZE = 12 << 20  # large enough for a bar, small enough for CI


def _esign_on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str, bytes]:
    """Run ``esign ARGS`` with stderr on a pseudo-terminal: exit code, stdout, terminal."""
    master, slave = os.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "esign", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=slave,
            env=env,
        )
    finally:
        os.close(slave)
    seen = b""
    try:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed its end
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(master)
    stdout = process.stdout.read().decode() if process.stdout else ""
    return process.wait(timeout=120), stdout, seen


@pytest.fixture
def big(pki: Pki, tmp_path: Path) -> dict[str, Path]:
    files = pki.write(tmp_path)
    files["doc"] = tmp_path / "big.bin"
    with open(files["doc"], "wb") as handle:
        handle.write(os.urandom(1 << 20) * (SIZE >> 20))
    return files


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "ESIGN_PASSWORD")}
    env.update(TERM="xterm", **extra)
    return env


def test_seal_shows_a_bar_on_a_terminal_and_none_when_piped(
    big: dict[str, Path], tmp_path: Path
) -> None:
    seal = ["seal", str(big["doc"]), "--key", str(big["ivanov_key"]),
            "--cert", str(big["ivanov_cert"]), "--to", str(big["tax_cert"])]  # fmt: skip
    code, stdout, terminal = _esign_on_a_terminal([*seal, "--out", str(tmp_path / "a.p7m")], _env())
    assert code == 0, terminal
    assert b"sealing [" in terminal and b"100%" in terminal and b"12.0/12.0 MiB" in terminal
    assert terminal.count(b"\r") >= 2, "redrawn in place as the work goes on"
    assert b"\x1b[32m" in terminal, "the bar is coloured on a terminal"
    assert "sealed" in stdout and "sealing [" not in stdout

    piped = subprocess.run(
        [sys.executable, "-m", "esign", *seal, "--out", str(tmp_path / "b.p7m")],
        capture_output=True,
        env=_env(),
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr == b"", "nothing on a piped stderr"
    assert b"\x1b[" not in piped.stdout


def test_no_color_turns_the_colour_off(big: dict[str, Path], tmp_path: Path) -> None:
    code, _, terminal = _esign_on_a_terminal(
        ["sign", str(big["doc"]), "--key", str(big["ivanov_key"]), "--cert",
         str(big["ivanov_cert"]), "--out", str(tmp_path / "s.p7s")],
        _env(NO_COLOR="1"),
    )  # fmt: skip
    assert code == 0, terminal
    assert b"signing [" in terminal and b"100%" in terminal
    assert b"\x1b[" not in terminal


def test_verify_with_data_shows_a_bar(big: dict[str, Path], tmp_path: Path) -> None:
    sig = tmp_path / "s.p7s"
    signed = subprocess.run(
        [sys.executable, "-m", "esign", "sign", str(big["doc"]), "--key", str(big["ivanov_key"]),
         "--cert", str(big["ivanov_cert"]), "--out", str(sig)],
        capture_output=True, env=_env(), stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert signed.returncode == 0 and signed.stderr == b"", signed.stderr
    code, stdout, terminal = _esign_on_a_terminal(
        ["verify", str(sig), "--data", str(big["doc"]), "--trust", str(big["ca"]),
         "--crl", str(big["crl"])],
        _env(),
    )  # fmt: skip
    assert code == 0, (stdout, terminal)
    assert b"verifying [" in terminal and b"100%" in terminal
    assert "signature: VALID" in stdout


def test_batch_shows_items_on_a_terminal(pki: Pki, tmp_path: Path) -> None:
    from esign import sign

    files = pki.write(tmp_path)
    folder = tmp_path / "in"
    folder.mkdir()
    for number in range(5):
        document = folder / f"doc{number}.txt"
        document.write_bytes(b"return %d" % number)
        (folder / f"doc{number}.txt.p7s").write_bytes(
            sign(document.read_bytes(), signer=(pki.ivanov_key, pki.ivanov_cert))
        )
    batch = ["batch", "verify", str(folder), "--trust", str(files["ca"]), "--crl",
             str(files["crl"]), "--workers", "1", "--no-parquet"]  # fmt: skip
    code, _, terminal = _esign_on_a_terminal(
        [*batch, "--out", str(tmp_path / "a.jsonl")], _env(NO_COLOR="1")
    )
    assert code == 0, terminal
    assert b"verifying [" in terminal and b"5/5" in terminal and b"items/s" in terminal
    piped = subprocess.run(
        [sys.executable, "-m", "esign", *batch, "--out", str(tmp_path / "b.jsonl")],
        capture_output=True, env=_env(), stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert piped.returncode == 0, piped.stderr
    assert b"[" not in piped.stderr and b"5 items: 5 valid" in piped.stderr
