"""A 300 MiB attached signature, signed and verified as a stream, against openssl both ways.

Marked ``large`` (about 1.2 GiB written to a temporary folder and deleted, some 30 s on
CI). Peak memory is measured in child processes, as the growth of ``ru_maxrss`` over what
the process had already used after a warm-up; the bound (64 MiB for a 300 MiB document)
is far above the few MiB streaming takes and far below what an in-memory signature of the
same document needs, so it decides the question without depending on timing.
``benchmarks/bench_stream.py`` reports the same figures with throughput against openssl.
"""

from __future__ import annotations

import filecmp
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Pki, run
from .test_cli import esign

pytestmark = pytest.mark.large

SIZE = 300 << 20
MAX_GROWTH = 64 << 20

CHILD = r"""
import json, os, resource, sys
from pathlib import Path
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from esign.certs import TrustContext
from esign.signing.streaming import sign_stream, verify_stream

mode, folder, *paths = sys.argv[1:]
work = Path(folder)
key = load_pem_private_key((work / "ivanov_key.pem").read_bytes(), None)
cert = x509.load_pem_x509_certificate((work / "ivanov_cert.pem").read_bytes())
ca = x509.load_pem_x509_certificate((work / "ca.pem").read_bytes())
crl = x509.load_pem_x509_crl((work / "ca.crl").read_bytes())
trust = TrustContext([ca], crls=[crl])

def sign(source, target):
    with open(source, "rb") as src, open(target, "wb") as dst:
        return sign_stream(src, dst, signer=(key, cert))

def verify(path):
    with open(path, "rb") as src, open(os.devnull, "wb") as out:
        report = verify_stream(src, trust=trust, out=out)
    return report.valid, [e.message for e in report.errors]

(work / "warm.txt").write_bytes(b"warm-up")  # first-call costs (imports, caches) first
sign(work / "warm.txt", work / "warm.p7s")
assert verify(work / "warm.p7s")[0]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if mode == "sign":
    result = {"size": sign(paths[0], paths[1])}
else:
    result = {"verdicts": [verify(path) for path in paths]}
result["growth"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
print(json.dumps(result))
"""


def child(*args: str | Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *map(str, args)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def work(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("large")
    pki.write(folder)
    document = folder / "document.bin"
    with document.open("wb") as handle:  # sparse-ish: random blocks every 16 MiB, holes between
        handle.truncate(SIZE)
        for offset in range(0, SIZE, 16 << 20):
            handle.seek(offset)
            handle.write(os.urandom(64 << 10))
        handle.seek(SIZE - 6)
        handle.write(b"finis\n")
    yield folder
    for path in folder.iterdir():
        path.unlink()


def test_300_mib_signed_by_esign_verifies_in_openssl_and_esign(work: Path, openssl: str) -> None:
    signature = work / "esign.p7s"
    signed = child("sign", work, work / "document.bin", signature)
    assert signed["size"] == SIZE
    assert signed["growth"] < MAX_GROWTH, f"signing grew RSS by {signed['growth']} bytes"
    assert signature.read_bytes()[:2] == b"\x30\x80"  # streamed BER, as openssl -stream
    verified = run(
        openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", signature,
        "-CAfile", work / "ca.pem", "-out", os.devnull,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    checked = child("verify", work, signature)
    assert checked["verdicts"] == [[True, []]]
    assert checked["growth"] < MAX_GROWTH, f"verifying grew RSS by {checked['growth']} bytes"
    # The command line streams it too, and --out extracts exactly the document.
    content = work / "content.bin"
    cli = esign(
        "verify", signature, "--trust", work / "ca.pem", "--crl", work / "ca.crl", "--out", content
    )
    assert cli.returncode == 0, cli.stderr
    assert filecmp.cmp(content, work / "document.bin", shallow=False)
    content.unlink()
    signature.unlink()


def test_300_mib_openssl_stream_signature_verifies_in_esign(work: Path, openssl: str) -> None:
    signature = work / "openssl.p7s"
    signed = run(
        openssl, "cms", "-sign", "-binary", "-nodetach", "-stream", "-outform", "DER",
        "-in", work / "document.bin", "-signer", work / "ivanov_cert.pem",
        "-inkey", work / "ivanov_key.pem", "-out", signature,
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    assert signature.read_bytes()[:2] == b"\x30\x80"  # BER, indefinite length
    checked = child("verify", work, signature)
    assert checked["verdicts"] == [[True, []]]
    assert checked["growth"] < MAX_GROWTH, f"verifying grew RSS by {checked['growth']} bytes"
    # One byte of the document changed, deep inside: not valid.
    with signature.open("r+b") as handle:
        handle.seek(200 << 20)
        byte = handle.read(1)
        handle.seek(200 << 20)
        handle.write(bytes([byte[0] ^ 0x20]))
    tampered = child("verify", work, signature)
    verdicts = tampered["verdicts"]
    assert isinstance(verdicts, list) and verdicts[0][0] is False
    assert any("changed" in message for message in verdicts[0][1])
    signature.unlink()
