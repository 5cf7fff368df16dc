"""Every benchmark in one run, printed as one table of ratios.

    python -m benchmarks [--quick] [--sizes 512,1024] [--only sign,verify,...] [--json FILE]

Each row sets esign against a baseline measured in the same run on the same machine, so
the ratio means something on any machine (absolute rates on a shared 2-core box do not):

- sign / verify per algorithm (1 KiB document, detached CMS, one CA, one cached trust
  context): esign against the raw ``cryptography`` signature primitive, pyHanko's signer
  and validator, and the ``openssl cms`` command line (one process per operation);
- verify with the full chain and a CRL (revocation checked);
- CA issuance: ``CertificateAuthority.issue`` (in-memory and durable SQLite registry)
  against ``cryptography``'s ``CertificateBuilder.sign`` alone;
- seal / open of a large file through the library and through the ``esign`` command line,
  against a Python process that imports ``cryptography`` and makes the single pass
  (SHA-256 + AES-256-GCM, writing the ciphertext), with peak RSS growth;
- start-up: ``esign --help`` and ``esign verify`` of a 1 KiB signature against
  ``python -c "import cryptography.x509"``.

Rates are the best of a few interleaved rounds (the least disturbed by other processes);
process times are medians of interleaved runs. With ``--cpu-time`` the sign and verify
rates count this process's CPU time instead of wall time: on a shared machine under load,
preemption stretches a long loop (esign's) more often than a short one (the raw
primitive's), which wall time would charge to esign. "ratio" is esign's speed over the
baseline's (higher is better) except for start-up, where it is esign's time over the
baseline's (lower is better), as the targets are written.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

DOC = bytes(range(256)) * 4  # 1 KiB
PYTHON = sys.executable


@dataclass
class Row:
    section: str
    operation: str
    esign: str
    baseline: str
    ratio: float
    target: str = ""
    others: str = ""

    @property
    def met(self) -> str:
        if not self.target:
            return ""
        op, value = self.target[:2], float(self.target[2:].strip().rstrip("x"))
        ok = self.ratio >= value if op == ">=" else self.ratio <= value
        return "yes" if ok else "NO"


#: The clock of sign and verify rates (``--cpu-time`` sets ``time.process_time``).
RATE_CLOCK: Callable[[], float] = time.perf_counter


def best_rates(
    actions: dict[str, Callable[[], object]],
    count: int,
    rounds: int = 3,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    """Operations per second of each action: the best of ``rounds`` interleaved rounds."""
    for action in actions.values():
        action()
    best = dict.fromkeys(actions, float("inf"))
    for _ in range(rounds):
        for name, action in actions.items():
            start = clock()
            for _ in range(count):
                action()
            best[name] = min(best[name], clock() - start)
    return {name: count / elapsed for name, elapsed in best.items()}


def process_times(
    commands: dict[str, list[str]],
    runs: int,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, float]:
    """Median wall time of each command, the commands run interleaved."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            start = time.perf_counter()
            subprocess.run(
                command,
                cwd=cwd,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=True,
            )
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def fmt_rate(value: float) -> str:
    if value != value:  # NaN: not measured
        return "n/a"
    return f"{value:,.0f}/s" if value >= 10 else f"{value:.1f}/s"


# --- a small PKI -------------------------------------------------------------------------


class Pki:
    """One root CA and a signer per algorithm, with the files the command lines need."""

    def __init__(self, folder: Path, algorithms: list[str]) -> None:
        from cryptography.hazmat.primitives.serialization import (
            Encoding,
            NoEncryption,
            PrivateFormat,
        )

        from esign.certs import CertificateAuthority
        from esign.keys import generate_key

        self.folder = folder
        self.ca = CertificateAuthority.create_root("CN=Bench Root CA")
        (folder / "ca.pem").write_bytes(self.ca.certificate.public_bytes(Encoding.PEM))
        (folder / "ca.crl").write_bytes(self.ca.crl().public_bytes(Encoding.PEM))
        self.signers: dict[str, tuple[Any, Any]] = {}
        for alg in algorithms:
            key = generate_key(alg)
            cert = self.ca.issue(key.public_key(), subject=f"CN=Bench {alg}", profile="signing")
            self.signers[alg] = (key, cert)
            pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
            (folder / f"{alg}.key").write_bytes(pem)
            (folder / f"{alg}.pem").write_bytes(cert.public_bytes(Encoding.PEM))
        key = generate_key("ec-p256")
        cert = self.ca.issue(key.public_key(), subject="CN=Bench recipient", profile="encryption")
        (folder / "recipient.key").write_bytes(
            key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        )
        (folder / "recipient.pem").write_bytes(cert.public_bytes(Encoding.PEM))


def raw_sign(key: Any, data: bytes) -> Callable[[], object]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    if isinstance(key, ec.EllipticCurvePrivateKey):
        algorithm = ec.ECDSA(hashes.SHA384() if key.curve.key_size >= 384 else hashes.SHA256())
        return lambda: key.sign(data, algorithm)
    if isinstance(key, rsa.RSAPrivateKey):
        pss = padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.MAX_LENGTH)
        return lambda: key.sign(data, pss, hashes.SHA256())
    return lambda: key.sign(data)


def raw_verify(key: Any, data: bytes) -> Callable[[], object]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    public = key.public_key()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        algorithm = ec.ECDSA(hashes.SHA384() if key.curve.key_size >= 384 else hashes.SHA256())
        signature = key.sign(data, algorithm)
        return lambda: public.verify(signature, data, algorithm)
    if isinstance(key, rsa.RSAPrivateKey):
        pss = padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.MAX_LENGTH)
        signature = key.sign(data, pss, hashes.SHA256())
        return lambda: public.verify(signature, data, pss, hashes.SHA256())
    signature = key.sign(data)
    return lambda: public.verify(signature, data)


def pyhanko_sign(key: Any, cert: Any) -> Callable[[], object]:
    """pyHanko's CMS signer as esign drove it before its own signing path (new each call,
    as ``esign.sign`` built it)."""
    from esign._sync import run_sync
    from esign.signing.sign import _pyhanko_signer, digest_for

    digest = digest_for(key)
    return lambda: run_sync(
        _pyhanko_signer(key, cert, ()).async_sign_general_data(DOC, digest, detached=True)
    ).dump()


def openssl_rate(command: list[str], cwd: Path, runs: int) -> float:
    """Operations per second of an openssl command (one process each); NaN where this
    openssl cannot do it (Ed25519 and ML-DSA CMS with openssl 3.0)."""
    if shutil.which("openssl") is None:
        return float("nan")
    try:
        return 1.0 / process_times({"openssl": command}, runs, cwd)["openssl"]
    except subprocess.CalledProcessError:
        return float("nan")


# --- sections ---------------------------------------------------------------------------


def bench_sign(pki: Pki, quick: bool) -> list[Row]:
    import esign

    rows = []
    (pki.folder / "doc").write_bytes(DOC)
    for alg, (key, cert) in pki.signers.items():
        slow = alg.startswith("rsa")
        count = (20 if slow else 300) // (3 if quick else 1)
        actions = {
            "esign": lambda key=key, cert=cert: esign.sign(DOC, signer=(key, cert)),
            "raw": raw_sign(key, DOC),
            "pyhanko": pyhanko_sign(key, cert),
        }
        rates = best_rates(actions, count, clock=RATE_CLOCK)
        openssl = openssl_rate(
            ["openssl", "cms", "-sign", "-binary", "-in", "doc", "-signer", f"{alg}.pem",
             "-inkey", f"{alg}.key", "-outform", "DER", "-out", "/dev/null"],
            pki.folder, 5,
        )  # fmt: skip
        target = ">=0.8" if alg == "rsa-3072" else ">=0.30" if alg in ("ec-p256", "ed25519") else ""
        rows.append(
            Row(
                "sign", f"sign {alg}", fmt_rate(rates["esign"]), f"raw {fmt_rate(rates['raw'])}",
                rates["esign"] / rates["raw"], target,
                f"pyHanko {fmt_rate(rates['pyhanko'])} (x{rates['esign'] / rates['pyhanko']:.1f}); "
                f"openssl cms {fmt_rate(openssl)}",
            )
        )  # fmt: skip
    return rows


def bench_verify(pki: Pki, quick: bool) -> list[Row]:
    from asn1crypto import cms
    from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
    from pyhanko_certvalidator import ValidationContext

    import esign
    from esign._sync import run_sync
    from esign.certs import TrustContext
    from esign.certs.trust import to_asn1

    rows = []
    now = datetime.datetime.now(datetime.timezone.utc)
    crl = pki.ca.crl() if hasattr(pki.ca, "crl") else None
    crl_der = None
    if crl is not None:
        from cryptography.hazmat.primitives.serialization import Encoding

        crl_der = crl.public_bytes(Encoding.DER) if not isinstance(crl, bytes) else crl
    for alg in ("ec-p256", "ed25519", "rsa-3072"):
        if alg not in pki.signers:
            continue
        key, cert = pki.signers[alg]
        signature = esign.sign(DOC, signer=(key, cert))
        (pki.folder / f"{alg}.p7s").write_bytes(signature)
        # revocation is checked by default: the CA's CRL is the evidence
        trust = TrustContext([pki.ca.certificate], crls=[crl_der] if crl_der else [])
        for moment in (now, None):
            checked = esign.verify(signature, DOC, trust=trust, at=moment)
            assert checked.valid, checked.errors
        signed = cms.ContentInfo.load(signature)["content"]
        context = ValidationContext(trust_roots=[to_asn1(pki.ca.certificate)], allow_fetching=False)
        count = (30 if alg.startswith("rsa") else 100) // (3 if quick else 1)
        actions = {
            "fixed": lambda s=signature, t=trust: esign.verify(s, DOC, trust=t, at=now),
            "now": lambda s=signature, t=trust: esign.verify(s, DOC, trust=t),
            "raw": raw_verify(key, DOC),
            "pyhanko": lambda s=signed, c=context: run_sync(
                async_validate_detached_cms(DOC, s, signer_validation_context=c)
            ),
        }
        unchecked = TrustContext([pki.ca.certificate], check_revocation=False)
        actions["unchecked"] = lambda s=signature, t=unchecked: esign.verify(
            s, DOC, trust=t, at=now
        )
        rates = best_rates(actions, count, clock=RATE_CLOCK)
        openssl = openssl_rate(
            ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", f"{alg}.p7s",
             "-content", "doc", "-CAfile", "ca.pem", "-purpose", "any", "-out", "/dev/null"],
            pki.folder, 5,
        )  # fmt: skip
        target = ">=0.30" if alg in ("ec-p256", "ed25519") else ""
        others = (
            f"pyHanko {fmt_rate(rates['pyhanko'])} (x{rates['fixed'] / rates['pyhanko']:.1f}); "
            f"openssl cms {fmt_rate(openssl)}"
        )
        raw = f"raw {fmt_rate(rates['raw'])}"
        rows.append(Row("verify", f"verify {alg}, fixed at", fmt_rate(rates["fixed"]), raw,
                        rates["fixed"] / rates["raw"], target, others))  # fmt: skip
        rows.append(Row("verify", f"verify {alg}, at=now", fmt_rate(rates["now"]), raw,
                        rates["now"] / rates["raw"], target))  # fmt: skip
        rows.append(Row("verify", f"verify {alg}, revocation not checked",
                        fmt_rate(rates["unchecked"]), raw,
                        rates["unchecked"] / rates["raw"]))  # fmt: skip
    return rows


def threaded(action: Callable[[], object], threads: int) -> Callable[[], object]:
    """``action`` run once by each of ``threads`` threads at once: one call = ``threads`` ops.

    The threads are a pool made once (as in a server), so thread start-up and each
    thread's first registry connection are not measured."""
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=threads)
    barrier = threading.Barrier(threads)

    def start() -> object:
        barrier.wait()  # every worker thread exists and runs the action at once
        return action()

    def run() -> None:
        for future in [pool.submit(start) for _ in range(threads)]:
            future.result()

    return run


def bench_issuance(pki: Pki, quick: bool) -> list[Row]:
    from cryptography import x509

    from esign.certs import CertificateAuthority
    from esign.certs.authority import IssueRequest, signature_hash
    from esign.certs.registry import MemoryRegistry, SqliteRegistry
    from esign.keys import generate_key

    subject_keys = [generate_key("ec-p256").public_key() for _ in range(32)]
    ca_key = generate_key("ec-p256")
    counter = iter(range(10**9))
    rows = []
    count = 100 if quick else 300

    # The same certificate content as esign's "signing" profile: every extension of one it
    # issued (the subject key identifier computed per key), so only the CA's own work differs.
    template = CertificateAuthority.create_root("CN=Bench Template", key=ca_key).issue(
        subject_keys[0], subject="CN=Taxpayer", profile="signing"
    )
    extensions = [
        e for e in template.extensions if not isinstance(e.value, x509.SubjectKeyIdentifier)
    ]

    def builder_only() -> object:
        i = next(counter)
        now = datetime.datetime.now(datetime.timezone.utc)
        public = subject_keys[i % len(subject_keys)]
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name.from_rfc4514_string(f"CN=Taxpayer {i}"))
            .issuer_name(template.issuer)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        )
        for extension in extensions:
            builder = builder.add_extension(extension.value, extension.critical)
        return builder.sign(ca_key, signature_hash(ca_key))

    def issuer(ca: CertificateAuthority, per_call: int = 1) -> Callable[[], object]:
        def issue() -> None:
            for _ in range(per_call):
                i = next(counter)
                key = subject_keys[i % len(subject_keys)]
                ca.issue(key, subject=f"CN=Taxpayer {i}", profile="signing")

        return issue

    def builder_loop(per_call: int) -> Callable[[], object]:
        def build() -> None:
            for _ in range(per_call):
                builder_only()

        return build

    base = "CertificateBuilder.sign"
    with tempfile.TemporaryDirectory() as tmp:
        memory = CertificateAuthority.create_root(
            "CN=Bench Issuing", key=ca_key, registry=MemoryRegistry()
        )
        durable = CertificateAuthority.create_root(
            "CN=Bench Issuing", key=ca_key, registry=SqliteRegistry(Path(tmp) / "ca.db")
        )
        rates = best_rates(
            {"memory": issuer(memory), "durable": issuer(durable), "builder": builder_only},
            count,
        )
        rows.append(Row("CA", "issue ec-p256, in-memory registry", fmt_rate(rates["memory"]),
                        f"{base} {fmt_rate(rates['builder'])}",
                        rates["memory"] / rates["builder"], ">=0.7"))  # fmt: skip
        rows.append(Row("CA", "issue, durable SQLite, one caller", fmt_rate(rates["durable"]),
                        f"{base} {fmt_rate(rates['builder'])}",
                        rates["durable"] / rates["builder"], ">=0.7"))  # fmt: skip
        single = rates["builder"]
        # Concurrent issuers (a CA server's request threads) share commits and syncs; the
        # builder alone from as many threads is the fair ceiling (it may use both cores).
        for threads in (4, 16, 64):
            per = max(2 * count // threads, 8)
            rates = best_rates(
                {
                    "issue": threaded(issuer(durable, per), threads),
                    "builder": threaded(builder_loop(per), threads),
                },
                1,
            )
            rates = {name: rate * threads * per for name, rate in rates.items()}
            rows.append(Row("CA", f"issue, durable SQLite, {threads} threads",
                            fmt_rate(rates["issue"]),
                            f"{base}, {threads} threads {fmt_rate(rates['builder'])}",
                            rates["issue"] / rates["builder"], ">=0.7",
                            f"{rates['issue'] / single:.2f} of one-thread builder"))  # fmt: skip
        batch_size = 128
        requests = [
            IssueRequest(subject_keys[i % len(subject_keys)], f"CN=Batch {i}")
            for i in range(batch_size)
        ]
        rates = best_rates(
            {
                "batch": lambda: durable.issue_batch(requests),
                "builder": builder_loop(batch_size),
            },
            max(count // batch_size, 2),
        )
        rows.append(Row("CA", f"issue_batch of {batch_size}, durable SQLite",
                        fmt_rate(rates["batch"] * batch_size),
                        f"{base} {fmt_rate(rates['builder'] * batch_size)}",
                        rates["batch"] / rates["builder"], ">=0.7"))  # fmt: skip
    return rows


SINGLE_PASS = r"""
import hashlib, os, sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
hasher = hashlib.sha256()
enc = Cipher(algorithms.AES(os.urandom(32)), modes.GCM(os.urandom(12))).encryptor()
with open(sys.argv[1], "rb") as src, open(sys.argv[2], "wb") as dst:
    while chunk := src.read(1 << 20):
        hasher.update(chunk)
        dst.write(enc.update(chunk))
    dst.write(enc.finalize() + enc.tag)
"""

LIBRARY = r"""
import json, sys, time
from pathlib import Path
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from esign.certs import TrustContext
from esign.envelope import open_stream
from esign.envelope.recipients import identity_for, recipient_for
from esign.envelope import seal_stream

def rss(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0

folder, doc, sealed, opened = map(Path, sys.argv[1:5])
key = lambda n: load_pem_private_key((folder / n).read_bytes(), None)
cert = lambda n: x509.load_pem_x509_certificate((folder / n).read_bytes())
signer = (key("ec-p256.key"), cert("ec-p256.pem"))
trust = TrustContext([cert("ca.pem")], check_revocation=False)  # throughput only
identity = identity_for(key("recipient.key"), cert("recipient.pem"))
before = rss("VmRSS")
start = time.perf_counter()
with open(doc, "rb") as src, open(sealed, "wb") as dst:
    seal_stream(src, dst, signer=signer, recipients=[recipient_for(cert("recipient.pem"))])
seal = time.perf_counter() - start
start = time.perf_counter()
with open(sealed, "rb") as src, open(opened, "wb") as dst:
    report = open_stream(src, dst, recipient=identity, trust=trust).report
opening = time.perf_counter() - start
assert report.valid, report
print(json.dumps({"seal": seal, "open": opening, "rss_growth": rss("VmHWM") - before}))
"""


def _timed_child(command: list[str], cwd: Path) -> tuple[float, int]:
    """Wall time and peak RSS (bytes) of one child process.

    Dirty pages of earlier runs are written out first, so no run pays for another's
    writes (the single pass and esign write the same amount)."""
    os.sync()
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed: {process.stderr.read().decode()[-500:]}")  # type: ignore[union-attr]
    process.stderr.close()  # type: ignore[union-attr]
    return elapsed, usage.ru_maxrss * 1024


def bench_envelope(pki: Pki, sizes: list[int], runs: int) -> list[Row]:
    esign_cli = shutil.which("esign") or ""
    rows = []
    folder = pki.folder
    for size in sizes:
        doc = folder / f"doc-{size}"
        with open(doc, "wb") as handle:
            for _ in range(size):
                handle.write(os.urandom(1 << 20))
        small = folder / "doc-small"
        small.write_bytes(DOC)
        # --force: each round overwrites the previous round's output
        seal_args = ["--key", "ec-p256.key", "--cert", "ec-p256.pem", "--to", "recipient.pem",
                     "--force"]  # fmt: skip
        open_args = ["--key", "recipient.key", "--trust", "ca.pem", "--crl", "ca.crl", "--force"]
        # the CLI's own footprint on a tiny file, to tell growth with size from start-up
        _, seal_small = _timed_child(
            [esign_cli, "seal", small.name, *seal_args, "--out", "s.p7m"], folder
        )
        _, open_small = _timed_child(
            [esign_cli, "open", "s.p7m", *open_args, "--out", "s.out"], folder
        )
        best: dict[str, float] = {}
        peak: dict[str, int] = {}
        library: dict[str, float] = {}
        for _ in range(runs):
            for name, command in (
                ("base", [PYTHON, "-c", SINGLE_PASS, doc.name, "base.out"]),
                ("seal", [esign_cli, "seal", doc.name, *seal_args, "--out", "cli.p7m"]),
                ("open", [esign_cli, "open", "cli.p7m", *open_args, "--out", "cli.out"]),
            ):
                elapsed, rss = _timed_child(command, folder)
                best[name] = min(best.get(name, elapsed), elapsed)
                peak[name] = max(peak.get(name, 0), rss)
            os.sync()
            out = subprocess.run(
                [PYTHON, "-c", LIBRARY, str(folder), str(doc), str(folder / "lib.p7m"),
                 str(folder / "lib.out")],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            result = json.loads(out.stdout)
            for name in ("seal", "open"):
                library[name] = min(library.get(name, result[name]), result[name])
            library["rss"] = max(library.get("rss", 0), result["rss_growth"])
        assert (folder / "cli.out").stat().st_size == doc.stat().st_size
        mib = f"{size} MiB" if size < 1024 else f"{size // 1024} GiB"

        def speed(seconds: float, size: int = size) -> str:
            return f"{size / seconds:,.0f} MiB/s"

        for name, small_rss in (("seal", seal_small), ("open", open_small)):
            growth = (peak[name] - small_rss) / (1 << 20)
            rows.append(
                Row("envelope", f"esign {name} (CLI), {mib}", speed(best[name]),
                    f"single pass {speed(best['base'])}", best["base"] / best[name], ">=0.8",
                    f"RSS growth {growth:.0f} MiB (target < 64)")
            )  # fmt: skip
            rows.append(
                Row("envelope", f"{name}_stream (library), {mib}", speed(library[name]),
                    f"single pass {speed(best['base'])}", best["base"] / library[name], ">=0.7",
                    f"RSS growth {library['rss'] / (1 << 20):.0f} MiB (both, in-process)")
            )  # fmt: skip
        for leftover in (doc, folder / "base.out", folder / "cli.p7m", folder / "cli.out",
                         folder / "lib.p7m", folder / "lib.out"):  # fmt: skip
            leftover.unlink(missing_ok=True)
    return rows


def bench_startup(pki: Pki, runs: int) -> list[Row]:
    esign_cli = shutil.which("esign") or ""
    key, cert = pki.signers["ec-p256"]
    import esign

    (pki.folder / "doc").write_bytes(DOC)
    (pki.folder / "startup.p7s").write_bytes(esign.sign(DOC, signer=(key, cert)))
    # As an installed package starts: with its bytecode cached (pip compiles it; a
    # PYTHONDONTWRITEBYTECODE environment would make every run compile esign afresh, which
    # cryptography, installed, never pays). One warm-up round writes the cache.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    times = process_times(
        {
            "base": [PYTHON, "-c", "import cryptography.x509"],
            "help": [esign_cli, "--help"],
            "verify": [
                esign_cli,
                "verify",
                "startup.p7s",
                "--data",
                "doc",
                "--trust",
                "ca.pem",
                "--crl",
                "ca.crl",
            ],  # fmt: skip
        },
        runs + 1,
        pki.folder,
        env,
    )
    base = f"import cryptography.x509 {times['base'] * 1e3:.0f} ms"
    return [
        Row("start-up", "esign --help", f"{times['help'] * 1e3:.0f} ms", base,
            times["help"] / times["base"], "<=2"),
        Row("start-up", "esign verify (1 KiB)", f"{times['verify'] * 1e3:.0f} ms", base,
            times["verify"] / times["base"], "<=4"),
    ]  # fmt: skip


def render(rows: list[Row]) -> str:
    header = ("section", "operation", "esign", "baseline", "ratio", "target", "met", "also")
    table = [header] + [
        (r.section, r.operation, r.esign, r.baseline, f"{r.ratio:.2f}", r.target, r.met, r.others)
        for r in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header) - 1)]
    lines = []
    for index, line in enumerate(table):
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(line[:-1])]
        lines.append(" | ".join([*cells, line[-1]]).rstrip())
        if index == 0:
            lines.append("-+-".join("-" * w for w in widths) + "-+-" + "-" * 8)
    return "\n".join(lines)


SECTIONS = ("sign", "verify", "issuance", "envelope", "startup")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="fewer rounds, a 64 MiB envelope")
    parser.add_argument("--sizes", help="envelope sizes in MiB, comma-separated (default 512,1024)")
    parser.add_argument("--only", help=f"sections to run, comma-separated: {','.join(SECTIONS)}")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="sign and verify rates from this process's CPU time (for a loaded machine)",
    )
    args = parser.parse_args(argv)
    global RATE_CLOCK
    RATE_CLOCK = time.process_time if args.cpu_time else time.perf_counter
    sections = args.only.split(",") if args.only else list(SECTIONS)
    sizes = (
        [int(s) for s in args.sizes.split(",")]
        if args.sizes
        else [64]
        if args.quick
        else [512, 1024]
    )
    algorithms = ["ec-p256", "ed25519", "ec-p384", "rsa-3072", "ml-dsa-65"]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="esign-bench-") as tmp:
        pki = Pki(Path(tmp), algorithms)
        if "sign" in sections:
            rows += bench_sign(pki, args.quick)
        if "verify" in sections:
            rows += bench_verify(pki, args.quick)
        if "issuance" in sections:
            rows += bench_issuance(pki, args.quick)
        if "envelope" in sections:
            rows += bench_envelope(pki, sizes, 1 if args.quick else 2)
        if "startup" in sections:
            rows += bench_startup(pki, 7 if args.quick else 15)
    print(f"esign benchmarks, {datetime.date.today()}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}, Python {sys.version.split()[0]}"
          + (", sign/verify rates in CPU time" if args.cpu_time else ""))  # fmt: skip
    print(render(rows))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in rows], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
