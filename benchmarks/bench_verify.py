"""Verify many signatures from one signer against one trust context (DESIGN §9).

Three numbers from the same run, on the same corpus of detached CAdES B-B signatures
(P-256, SHA-256, distinct documents):

- esign: ``esign.verify`` with one TrustContext and a fixed validation time (``at``), so
  parsed CRLs and validated paths are reused across signatures;
- pyHanko: ``async_validate_detached_cms`` with one ValidationContext per signature
  (pyHanko's per-signature validation; the target is esign >= 10x this);
- raw: the ECDSA verification of each signature value alone (``cryptography``), the floor.

Twice: with revocation checking switched off (``check_revocation=False``, the explicit
opt-out), and with a CA CRL of 5,000 revoked serials that both sides must check (esign's
default; pyHanko's ``revocation_mode="require"``): esign parses the CRL once per trust
context, pyHanko once per signature. The ratio of the two esign rates is the cost of the
default revocation check.

Run: ``python benchmarks/bench_verify.py [N] [PYHANKO_N]`` (default 10000 and 1000; the
pyHanko rate is measured on its own subset of the same corpus and compared per signature).
"""

from __future__ import annotations

import datetime
import sys
import time

from asn1crypto import cms
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
from pyhanko_certvalidator import ValidationContext

import esign
from esign._sync import run_sync
from esign.certs import CertificateAuthority, TrustContext
from esign.certs.trust import to_asn1
from esign.keys import generate_key


def _crl(ca: CertificateAuthority, entries: int) -> bytes:
    """A CRL from ``ca`` listing ``entries`` revoked serials (none of them the signer's)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(now - datetime.timedelta(hours=1))
        .next_update(now + datetime.timedelta(days=1))
        .add_extension(x509.CRLNumber(1), critical=False)
    )
    for serial in range(1, entries + 1):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(now - datetime.timedelta(days=1))
            .build()
        )
    crl = builder.sign(ca.key, hashes.SHA256())  # type: ignore[arg-type]
    return crl.public_bytes(Encoding.DER)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    pyhanko_count = min(count, int(sys.argv[2]) if len(sys.argv) > 2 else 1_000)
    ca = CertificateAuthority.create_root("CN=Bench Root")
    key = generate_key("ec-p256")
    cert = ca.issue(key.public_key(), subject="CN=Bench Signer", profile="signing")
    now = datetime.datetime.now(datetime.timezone.utc)
    print(f"signing {count} documents ...", flush=True)
    corpus = []
    for i in range(count):
        doc = f"document {i}".encode()
        corpus.append((doc, esign.sign(doc, signer=(key, cert), clock=lambda: now)))

    at = now + datetime.timedelta(minutes=1)
    root = to_asn1(ca.certificate)
    crl = _crl(ca, 5_000)
    rates: dict[str, tuple[float, float]] = {}
    for label, crls in (
        ("revocation not checked (opt-out)", []),
        ("CRL of 5000 entries (default check)", [crl]),
    ):
        trust = TrustContext([ca.certificate], crls=crls, check_revocation=bool(crls), name="bench")
        start = time.perf_counter()
        for doc, sig in corpus:
            report = esign.verify(sig, doc, trust=trust, at=at)
            assert report.valid, report.errors
        esign_rate = count / (time.perf_counter() - start)
        start = time.perf_counter()
        for doc, sig in corpus[:pyhanko_count]:
            signed = cms.ContentInfo.load(sig)["content"]
            context = ValidationContext(
                trust_roots=[root],
                allow_fetching=False,
                moment=at,
                crls=crls,
                revocation_mode="require" if crls else "soft-fail",
            )
            status = run_sync(
                async_validate_detached_cms(doc, signed, signer_validation_context=context)
            )
            assert status.bottom_line
        rates[label] = (esign_rate, pyhanko_count / (time.perf_counter() - start))

    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    prepared = []
    for _doc, sig in corpus:
        signer = cms.ContentInfo.load(sig)["content"]["signer_infos"][0]
        prepared.append((signer["signature"].native, signer["signed_attrs"].untag().dump()))
    start = time.perf_counter()
    for value, attributes in prepared:
        public.verify(value, attributes, ec.ECDSA(hashes.SHA256()))
    raw_rate = count / (time.perf_counter() - start)

    print(f"raw ECDSA verify:     {raw_rate:10.1f} signatures/s  ({count} signatures)")
    for label, (esign_rate, pyhanko_rate) in rates.items():
        print(f"-- {label}")
        print(f"esign.verify:         {esign_rate:10.1f} signatures/s  ({count} signatures)")
        print(
            f"pyHanko validation:   {pyhanko_rate:10.1f} signatures/s  ({pyhanko_count} signatures)"
        )
        print(f"esign / pyHanko:      {esign_rate / pyhanko_rate:10.2f}x  (target >= 10x)")
        print(f"esign / raw verify:   {esign_rate / raw_rate:10.3f}")
    checked = rates["CRL of 5000 entries (default check)"][0]
    unchecked = rates["revocation not checked (opt-out)"][0]
    print(f"revocation check cost: checked / unchecked = {checked / unchecked:.2f}")


if __name__ == "__main__":
    main()
