"""Proof of existence end to end: a real SHA-1 signature time-stamped in 2010 stays valid
after the policy's SHA-1 sunset (2014-01-01); without its time-stamp it is refused.

Everything is made at its date by injected clocks: the CA and its certificates in 2010,
the signature (SHA-1 message digest, sha1WithRSA, ESS signing-certificate v1) in 2010, the
project's TSA stamping it in 2010 (a SHA-256 token), and the CA's CRL in 2015, when the
signature is verified.
"""

from __future__ import annotations

import datetime
import hashlib
from pathlib import Path

import pytest
from asn1crypto import algos, cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding

import esign
from esign._sync import run_sync
from esign.certs import CertificateAuthority, TrustContext
from esign.keys import generate_key
from esign.signing import TimeStampAuthority
from esign.signing.indication import SubIndication

from .conftest import run

UTC = datetime.timezone.utc
SIGNED_AT = datetime.datetime(2010, 6, 1, 12, 0, tzinfo=UTC)
LATER = datetime.datetime(2015, 6, 1, 12, 0, tzinfo=UTC)  # after the SHA-1 sunset
DOCUMENT = b"tax return for 2009, signed in 2010"


class Clock:
    """A clock the test moves forward."""

    def __init__(self, now: datetime.datetime) -> None:
        self.now = now

    def __call__(self) -> datetime.datetime:
        return self.now


def _asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER))


@pytest.fixture(scope="module")
def world() -> dict[str, object]:
    clock = Clock(datetime.datetime(2010, 1, 1, tzinfo=UTC))
    ca = CertificateAuthority.create_root(
        "CN=Archive Root CA 2010", algorithm="rsa-3072", days=20 * 365, clock=clock
    )
    key = generate_key("rsa-3072")
    cert = ca.issue(key.public_key(), subject="CN=Signer 2010", profile="signing", days=3650)
    tsa_key = generate_key("ec-p256")
    tsa_cert = ca.issue(tsa_key.public_key(), subject="CN=TSA 2010", profile="tsa", days=3650)
    tsa = TimeStampAuthority(tsa_key, tsa_cert, clock=lambda: SIGNED_AT)

    # The SignerInfo of 2010: SHA-1 digest, sha1WithRSA, ESS signing-certificate (v1).
    der = cert.public_bytes(Encoding.DER)
    signed_attrs = cms.CMSAttributes(
        [
            {"type": "content_type", "values": ["data"]},
            {"type": "signing_time", "values": [cms.Time({"utc_time": SIGNED_AT})]},
            {"type": "message_digest", "values": [hashlib.sha1(DOCUMENT).digest()]},
            {
                "type": "signing_certificate",
                "values": [
                    tsp.SigningCertificate({"certs": [{"cert_hash": hashlib.sha1(der).digest()}]})
                ],
            },
        ]
    )
    signature = key.sign(signed_attrs.dump(), padding.PKCS1v15(), hashes.SHA1())  # type: ignore[union-attr, call-arg]
    token = run_sync(tsa.timestamper.async_timestamp(hashlib.sha256(signature).digest(), "sha256"))

    def signed_data(with_token: bool) -> bytes:
        info = {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": {
                        "issuer": _asn1(cert).issuer,
                        "serial_number": cert.serial_number,
                    }
                }
            ),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha1"}),
            "signed_attrs": signed_attrs,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha1_rsa"}),
            "signature": signature,
        }
        if with_token:
            info["unsigned_attrs"] = cms.CMSAttributes(
                [{"type": "signature_time_stamp_token", "values": [token]}]
            )
        content = cms.SignedData(
            {
                "version": "v1",
                "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha1"})],
                "encap_content_info": {"content_type": "data", "content": DOCUMENT},
                "certificates": [_asn1(cert)],
                "signer_infos": [cms.SignerInfo(info)],
            }
        )
        dumped: bytes = cms.ContentInfo({"content_type": "signed_data", "content": content}).dump()
        return dumped

    clock.now = LATER  # the CA publishes its CRL at verification time
    trust = TrustContext([ca.certificate], crls=[ca.crl()])
    return {
        "stamped": signed_data(True),
        "bare": signed_data(False),
        "trust": trust,
        "ca": ca,
    }


def test_sha1_signature_with_a_2010_time_stamp_is_valid_after_the_sunset(
    world: dict[str, object],
) -> None:
    report = esign.verify(world["stamped"], trust=world["trust"], at=LATER)  # type: ignore[arg-type]
    assert report.valid, report.errors
    assert report.digest_algorithm == "sha1" and report.signature_algorithm == "sha1_rsa"
    assert report.timestamp == SIGNED_AT and report.timestamp_authority == "CN=TSA 2010"
    # Not a blanket pass for SHA-1: judged at the same moment with nothing proving 2010...
    bare = esign.verify(world["bare"], trust=world["trust"], at=LATER)  # type: ignore[arg-type]
    assert not bare.valid
    weak = [e for e in bare.errors if e.code == "weak_algorithm"]
    no_poe = SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE
    assert weak and all(e.subindication is no_poe for e in weak)
    assert "refused by the algorithm policy after 2014-01-01" in weak[0].message
    assert "sha1" in weak[0].message
    assert bare.subindication is SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE
    # ... and before the sunset the bare signature is fine: the refusal is the sunset's.
    early = esign.verify(world["bare"], trust=world["trust"], at=SIGNED_AT)  # type: ignore[arg-type]
    assert not [e for e in early.errors if e.code == "weak_algorithm"], early.errors


def test_the_2010_signature_is_real_cms(
    world: dict[str, object], openssl: str, tmp_path: Path
) -> None:
    """openssl reads the same bytes as a valid signature over the document (checked as of
    2010, when its certificates were current)."""
    ca = world["ca"]
    assert isinstance(ca, CertificateAuthority)
    (tmp_path / "ca.pem").write_bytes(ca.certificate.public_bytes(Encoding.PEM))
    (tmp_path / "stamped.p7s").write_bytes(world["stamped"])  # type: ignore[arg-type]
    checked = run(
        openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", tmp_path / "stamped.p7s",
        "-CAfile", tmp_path / "ca.pem", "-attime", str(int(SIGNED_AT.timestamp())),
        "-out", tmp_path / "out.txt",
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert (tmp_path / "out.txt").read_bytes() == DOCUMENT
