"""Validating many end-entity certificates under one TrustContext vs pyHanko per certificate.

DESIGN §9: verifying many signatures against one trust context reuses parsed CRLs and
validated paths, >= 10x pyHanko's per-signature validation on the same corpus.

Corpus: one CA (EC P-256), N end-entity certificates, one CRL of M entries that revokes
1 % of the certificates. Each side validates every certificate at the same moment with
revocation required and must reach the same verdicts (checked on the baseline sample).
The baseline — a fresh pyHanko ValidationContext per certificate, as a caller without
esign would write it — is timed on a sample, since it re-reads the whole CRL each time;
the ratio compares per-certificate times measured in this run.

    python benchmarks/bench_trust.py [--certs 10000] [--crl-entries 100000] [--sample 20]
"""

from __future__ import annotations

import argparse
import datetime
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from asn1crypto import x509 as asn1_x509  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding  # noqa: E402
from pyhanko_certvalidator import CertificateValidator, ValidationContext, errors  # noqa: E402

from esign._sync import run_sync  # noqa: E402
from esign.certs import CertificateAuthority  # noqa: E402
from esign.certs.trust import TrustContext  # noqa: E402

UTC = datetime.timezone.utc
T0 = datetime.datetime(2026, 1, 1, tzinfo=UTC)
MOMENT = datetime.datetime(2026, 3, 1, tzinfo=UTC)


def build_corpus(
    n_certs: int, n_entries: int
) -> tuple[CertificateAuthority, list[x509.Certificate], bytes, set[int]]:
    ca = CertificateAuthority.create_root("CN=Bench CA", clock=lambda: T0)
    key = ec.generate_private_key(ec.SECP256R1()).public_key()  # one key, many certificates
    usage = x509.KeyUsage(True, True, False, False, False, False, False, False, False)
    certs = []
    for i in range(n_certs):
        certs.append(
            x509.CertificateBuilder()
            .subject_name(x509.Name.from_rfc4514_string(f"CN=Taxpayer {i}"))
            .issuer_name(ca.certificate.subject)
            .public_key(key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(T0)
            .not_valid_after(T0 + datetime.timedelta(days=365))
            .add_extension(usage, critical=True)
            .sign(ca.key, hashes.SHA256())  # type: ignore[arg-type]
        )
    rng = random.Random(1)
    revoked = {c.serial_number for c in rng.sample(certs, max(1, n_certs // 100))}
    serials = list(revoked)
    while len(serials) < n_entries:
        serials.append(rng.getrandbits(159) | 1)
    rng.shuffle(serials)
    when = T0 + datetime.timedelta(days=10)
    reason = x509.CRLReason(x509.ReasonFlags.key_compromise)
    entries = [
        x509.RevokedCertificateBuilder()
        .serial_number(s)
        .revocation_date(when)
        .add_extension(reason, critical=False)
        .build()
        for s in serials
    ]
    crl = x509.CertificateRevocationListBuilder(
        issuer_name=ca.certificate.subject,
        last_update=MOMENT - datetime.timedelta(days=1),
        next_update=MOMENT + datetime.timedelta(days=6),
        extensions=[x509.Extension(x509.CRLNumber.oid, False, x509.CRLNumber(1))],
        revoked_certificates=entries,
    ).sign(ca.key, hashes.SHA256())  # type: ignore[arg-type]
    return ca, certs, crl.public_bytes(Encoding.DER), revoked


def pyhanko_verdict(context: ValidationContext, cert: x509.Certificate) -> bool:
    validator = CertificateValidator(
        asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER)), validation_context=context
    )
    try:
        run_sync(validator.async_validate_usage({"digital_signature"}))
    except errors.RevokedError:
        return False
    return True


def fresh_context(ca: CertificateAuthority, crl: bytes) -> ValidationContext:
    return ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(ca.certificate.public_bytes(Encoding.DER))],
        crls=[crl],
        moment=MOMENT,
        revocation_mode="require",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certs", type=int, default=10_000)
    parser.add_argument("--crl-entries", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=20, help="baseline certificates timed")
    args = parser.parse_args()

    started = time.perf_counter()
    ca, certs, crl, revoked = build_corpus(args.certs, args.crl_entries)
    print(
        f"corpus: {len(certs)} end-entity certificates, CRL of {args.crl_entries} entries "
        f"({len(crl) / 2**20:.1f} MiB), {len(revoked)} revoked; built in "
        f"{time.perf_counter() - started:.1f} s"
    )
    sample = certs[: args.sample]

    # esign: one TrustContext for the whole corpus (its setup is inside the timing).
    started = time.perf_counter()
    trust = TrustContext([ca.certificate], crls=[crl], revocation_required=True)
    verdicts = [trust.validate(c, at=MOMENT).trusted for c in certs]
    esign_time = time.perf_counter() - started
    bad = [c for c, ok in zip(certs, verdicts) if ok == (c.serial_number in revoked)]
    assert not bad, f"{len(bad)} wrong verdicts"

    # Baseline 1: a fresh pyHanko ValidationContext per certificate.
    started = time.perf_counter()
    fresh = [pyhanko_verdict(fresh_context(ca, crl), c) for c in sample]
    fresh_time = time.perf_counter() - started
    assert fresh == verdicts[: len(sample)], "pyHanko and esign disagree"

    # Baseline 2: one pyHanko ValidationContext reused (what esign builds on).
    shared = fresh_context(ca, crl)
    started = time.perf_counter()
    reused = [pyhanko_verdict(shared, c) for c in sample]
    reused_time = time.perf_counter() - started
    assert reused == verdicts[: len(sample)]

    per = {
        "esign TrustContext (one for all)": esign_time / len(certs),
        "pyHanko, fresh context per certificate": fresh_time / len(sample),
        "pyHanko, one shared context": reused_time / len(sample),
    }
    print(f"{'validator':42} {'ms/cert':>9} {'certs/s':>9}")
    for name, seconds in per.items():
        print(f"{name:42} {seconds * 1e3:9.3f} {1 / seconds:9.1f}")
    base = per["pyHanko, fresh context per certificate"]
    ratio = base / per["esign TrustContext (one for all)"]
    ratio_shared = per["pyHanko, one shared context"] / per["esign TrustContext (one for all)"]
    print(f"ratio esign / pyHanko fresh per certificate: {ratio:.1f}x (target >= 10x)")
    print(f"ratio esign / pyHanko one shared context:    {ratio_shared:.1f}x")


if __name__ == "__main__":
    main()
