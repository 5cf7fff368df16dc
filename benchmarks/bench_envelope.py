"""Seal + open of a large file: throughput against the single-pass limit, and peak memory.

    python benchmarks/bench_envelope.py [SIZE_MIB]      (default 1024 = 1 GiB)

Measured in one run, on the same input file, in one child process (warmed up first):
- the single-pass limit: SHA-256 plus AES-256-GCM over the same bytes with ``cryptography``
  alone (read in 1 MiB chunks, output discarded) — no CMS, no signature;
- ``esign`` ``seal_stream`` to /dev/null and to a file, ``open_stream`` to /dev/null;
- peak RSS growth over those operations (VmHWM after - VmRSS before);
and, as separate processes, ``openssl cms -sign -stream | openssl cms -encrypt -stream
-aes-256-gcm`` and ``openssl cms -decrypt | openssl cms -verify`` with the same keys.

Targets (DESIGN §9): RSS growth < 64 MiB for 1 GiB; >= 70 % of the single-pass limit;
faster than the openssl pipeline. The input is generated under /tmp and deleted after.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization

CHUNK = 1 << 20

CHILD = r"""
import hashlib, json, os, sys, time
from pathlib import Path
from cryptography import x509
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from esign.certs import TrustContext
from esign.envelope import open_stream, seal_stream

def rss(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0

def single_pass(path):
    # The limit: SHA-256 + AES-256-GCM with cryptography alone, output discarded.
    start = time.perf_counter()
    hasher = hashlib.sha256()
    enc = Cipher(algorithms.AES(os.urandom(32)), modes.GCM(os.urandom(12))).encryptor()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            hasher.update(chunk)
            enc.update(chunk)
    enc.finalize()
    return time.perf_counter() - start

work = Path(sys.argv[1])
load_key = lambda n: load_pem_private_key((work / n).read_bytes(), None)
load_cert = lambda n: x509.load_pem_x509_certificate((work / n).read_bytes())
signer = (load_key("signer.key"), load_cert("signer.pem"))
recipient = load_cert("recipient.pem")
trust = TrustContext([load_cert("ca.pem")], check_revocation=False)  # throughput only

def seal(src_path, out):
    start = time.perf_counter()
    with open(src_path, "rb") as src, open(out, "wb") as dst:
        seal_stream(src, dst, signer=signer, recipients=[recipient])
    return time.perf_counter() - start

def open_(path):
    start = time.perf_counter()
    with open(path, "rb") as src, open(os.devnull, "wb") as dst:
        opened = open_stream(src, dst, recipient=(load_key("recipient.key"), None), trust=trust)
    assert opened.report.valid, opened.report.errors
    return time.perf_counter() - start

(work / "empty").write_bytes(b"")
seal(work / "empty", work / "warm.p7m")  # first-call costs (imports, caches) out of the way
open_(work / "warm.p7m")
before = rss("VmRSS")
data = work / "input.bin"
result = {"limit": single_pass(data), "seal_null": seal(data, os.devnull)}
result["seal_file"] = seal(data, work / "sealed.p7m")
result["open"] = open_(work / "sealed.p7m")
result["rss_growth"] = rss("VmHWM") - before
print(json.dumps(result))
"""


def make_keys(work: Path) -> None:
    from esign.certs import CertificateAuthority
    from esign.keys import generate_key

    ca = CertificateAuthority.create_root("CN=Bench CA")
    pem = serialization.Encoding.PEM
    for name, profile in (("signer", "signing"), ("recipient", "encryption")):
        key = generate_key("ec-p256")
        cert = ca.issue(key.public_key(), subject=f"CN={name}", profile=profile)
        (work / f"{name}.pem").write_bytes(cert.public_bytes(pem))
        (work / f"{name}.key").write_bytes(
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
    (work / "ca.pem").write_bytes(ca.certificate.public_bytes(pem))


def child(work: Path) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(work)], capture_output=True, text=True, check=True
    )
    data: dict[str, float] = json.loads(result.stdout)
    return data


def shell(command: str) -> float:
    start = time.perf_counter()
    subprocess.run(["bash", "-o", "pipefail", "-c", command], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    with tempfile.TemporaryDirectory(prefix="esign-bench-", dir="/tmp") as folder:
        work = Path(folder)
        make_keys(work)
        with open(work / "input.bin", "wb") as handle:  # pseudo-random: nothing to skip
            block = os.urandom(CHUNK)
            for i in range(mib):
                handle.write(block[i % 251 :] + block[: i % 251])
        measured = child(work)
        w = str(work)
        openssl_seal = shell(
            f"openssl cms -sign -binary -nodetach -stream -outform DER -in {w}/input.bin "
            f"-signer {w}/signer.pem -inkey {w}/signer.key | openssl cms -encrypt -binary "
            f"-stream -aes-256-gcm -outform DER -recip {w}/recipient.pem -out {w}/o.p7m"
        )
        openssl_open = shell(
            f"openssl cms -decrypt -inform DER -in {w}/o.p7m -recip {w}/recipient.pem "
            f"-inkey {w}/recipient.key | openssl cms -verify -binary -inform DER "
            f"-CAfile {w}/ca.pem -out /dev/null"
        )

    limit, seal_null = measured["limit"], measured["seal_null"]
    seal_file, opened = measured["seal_file"], measured["open"]

    def rate(seconds: float) -> str:
        return f"{mib / seconds:8.1f} MiB/s"

    print(f"envelope benchmark: {mib} MiB, EC P-256 signer and recipient, AES-256-GCM")
    print(f"  single-pass limit (SHA-256 + AES-GCM, no output): {rate(limit)}")
    print(f"  esign seal_stream to /dev/null:                   {rate(seal_null)}")
    print(f"  esign seal_stream to a file:                      {rate(seal_file)}")
    print(f"  esign open_stream to /dev/null (signature valid): {rate(opened)}")
    print(f"  openssl cms -sign | cms -encrypt, to a file:      {rate(openssl_seal)}")
    print(f"  openssl cms -decrypt | cms -verify, to /dev/null: {rate(openssl_open)}")
    print(f"  seal / limit:                {limit / seal_null:5.2f}  (target >= 0.70)")
    print(f"  open / limit:                {limit / opened:5.2f}  (target >= 0.70)")
    print(f"  (seal + open) / (2 x limit): {2 * limit / (seal_null + opened):5.2f}")
    print(f"  seal vs openssl pipeline:    {openssl_seal / seal_file:5.2f}x faster (to a file)")
    print(f"  open vs openssl pipeline:    {openssl_open / opened:5.2f}x faster")
    growth = measured["rss_growth"] / (1 << 20)
    print(f"  peak RSS growth, seal+open:  {growth:5.1f} MiB  (target < 64)")


if __name__ == "__main__":
    main()
