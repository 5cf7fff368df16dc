"""Attached signatures of large files: throughput and peak memory against ``openssl cms``.

    python benchmarks/bench_stream.py [SIZE_MIB ...]      (default: 512 1024)

For each size, on the same pseudo-random input file:
- the single-pass limit: SHA-256 over the file with ``hashlib`` alone (1 MiB reads);
- ``esign.signing.streaming.sign_stream`` to a file and ``verify_stream`` of it (CRL
  checked, the document written to /dev/null), in one child process, warmed up first, with
  its peak RSS growth (``ru_maxrss`` after - before);
- ``openssl cms -sign -binary -nodetach -stream`` and ``openssl cms -verify -binary
  -crl_check`` with the same key and CRL, each a process whose peak RSS is read from
  ``wait4``.

Target (DESIGN §9, as for envelopes): RSS growth < 64 MiB at any size. The input is
generated under /tmp and deleted after.
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
import hashlib, json, os, resource, sys, time
from pathlib import Path
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from esign.certs import TrustContext
from esign.signing.streaming import sign_stream, verify_stream

work = Path(sys.argv[1])
key = load_pem_private_key((work / "signer.key").read_bytes(), None)
cert = x509.load_pem_x509_certificate((work / "signer.pem").read_bytes())
trust = TrustContext(
    [x509.load_pem_x509_certificate((work / "ca.pem").read_bytes())],
    crls=[x509.load_pem_x509_crl((work / "ca.crl").read_bytes())],
)

def limit(path):
    start = time.perf_counter()
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            hasher.update(chunk)
    return time.perf_counter() - start

def sign(source, target):
    start = time.perf_counter()
    with open(source, "rb") as src, open(target, "wb") as dst:
        sign_stream(src, dst, signer=(key, cert))
    return time.perf_counter() - start

def verify(path):
    start = time.perf_counter()
    with open(path, "rb") as src, open(os.devnull, "wb") as out:
        report = verify_stream(src, trust=trust, out=out)
    assert report.valid, report.errors
    return time.perf_counter() - start

(work / "warm.txt").write_bytes(b"warm-up")
sign(work / "warm.txt", work / "warm.p7s")
verify(work / "warm.p7s")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = {"limit": limit(work / "input.bin")}
result["sign"] = sign(work / "input.bin", work / "esign.p7s")
result["verify"] = verify(work / "esign.p7s")
result["rss_growth"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
print(json.dumps(result))
"""


def make_keys(work: Path) -> None:
    from esign.certs import CertificateAuthority
    from esign.keys import generate_key

    ca = CertificateAuthority.create_root("CN=Bench CA")
    pem = serialization.Encoding.PEM
    key = generate_key("ec-p256")
    cert = ca.issue(key.public_key(), subject="CN=signer", profile="signing")
    (work / "signer.pem").write_bytes(cert.public_bytes(pem))
    (work / "signer.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (work / "ca.pem").write_bytes(ca.certificate.public_bytes(pem))
    (work / "ca.crl").write_bytes(ca.crl().public_bytes(pem))


def timed(command: list[str]) -> tuple[float, int]:
    """Wall time and peak RSS (bytes) of one process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if status != 0:
        raise RuntimeError(
            f"{command[:3]} failed: {process.stderr.read() if process.stderr else ''}"
        )
    return elapsed, usage.ru_maxrss * 1024


def measure(mib: int) -> None:
    with tempfile.TemporaryDirectory(prefix="esign-bench-", dir="/tmp") as folder:
        work = Path(folder)
        make_keys(work)
        with open(work / "input.bin", "wb") as handle:  # pseudo-random: nothing to skip
            block = os.urandom(CHUNK)
            for i in range(mib):
                handle.write(block[i % 251 :] + block[: i % 251])
        done = subprocess.run(
            [sys.executable, "-c", CHILD, folder], capture_output=True, text=True, check=True
        )
        ours = json.loads(done.stdout)
        w = str(work)  # openssl cms reads the CA's CRL from the -CAfile bundle
        (work / "ca+crl.pem").write_bytes(
            (work / "ca.pem").read_bytes() + (work / "ca.crl").read_bytes()
        )
        openssl_sign, sign_rss = timed(
            ["openssl", "cms", "-sign", "-binary", "-nodetach", "-stream", "-outform", "DER",
             "-in", f"{w}/input.bin", "-signer", f"{w}/signer.pem", "-inkey", f"{w}/signer.key",
             "-out", f"{w}/openssl.p7s"]
        )  # fmt: skip
        openssl_verify, verify_rss = timed(
            ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", f"{w}/openssl.p7s",
             "-CAfile", f"{w}/ca+crl.pem", "-crl_check", "-out", "/dev/null"]
        )  # fmt: skip

    def rate(seconds: float) -> str:
        return f"{mib / seconds:8.1f} MiB/s"

    print(f"attached signature, {mib} MiB, EC P-256, SHA-256")
    print(f"  single-pass limit (SHA-256 alone):      {rate(ours['limit'])}")
    print(f"  esign sign_stream to a file:            {rate(ours['sign'])}")
    print(f"  esign verify_stream (CRL checked):      {rate(ours['verify'])}")
    print(f"  openssl cms -sign -stream to a file:    {rate(openssl_sign)}")
    print(f"  openssl cms -verify -binary:            {rate(openssl_verify)}")
    print(f"  sign:   {ours['limit'] / ours['sign']:5.2f} of the limit, "
          f"{openssl_sign / ours['sign']:5.2f}x openssl's speed")  # fmt: skip
    print(f"  verify: {ours['limit'] / ours['verify']:5.2f} of the limit, "
          f"{openssl_verify / ours['verify']:5.2f}x openssl's speed")  # fmt: skip
    print(f"  esign peak RSS growth, sign + verify: {ours['rss_growth'] / (1 << 20):6.1f} MiB "
          "(target < 64)")  # fmt: skip
    print(f"  openssl peak RSS: sign {sign_rss / (1 << 20):6.1f} MiB, "
          f"verify {verify_rss / (1 << 20):6.1f} MiB (whole process)")  # fmt: skip


def main() -> None:
    for mib in [int(a) for a in sys.argv[1:]] or [512, 1024]:
        measure(mib)


if __name__ == "__main__":
    main()
