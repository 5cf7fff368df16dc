"""The malformed and malicious corpus, generated from a real signature (no opaque blobs).

``python -m tests.hostile.corpus DIR`` writes every case to DIR for other tools (fuzzers
use it as seeds); the tests build it in memory. Each case is a signature (and maybe a
document and extra certificate) that must be refused with a named error or judged not
valid: never a traceback, never "valid".
"""

from __future__ import annotations

import datetime
import sys
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import algos, cms, core
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from esign.signing.sign import rebuilt, sign

DOCUMENT = b"Tax return 2026: income 1,000,000 RUB\n"


@dataclass(frozen=True)
class Case:
    signature: bytes
    data: bytes | None = None  # the detached document, when the case has one
    certificate: bytes | None = None  # an extra certificate given with --cert


def _replace(signed: bytes, *, signer_changes: dict[str, object] | None = None,
             **content_changes: object) -> bytes:  # fmt: skip
    """``signed`` with fields of its SignedData (and first signer) replaced, re-encoded."""
    content = cms.ContentInfo.load(signed)["content"]
    if signer_changes:
        signer = rebuilt(content["signer_infos"][0], **signer_changes)
        content_changes["signer_infos"] = cms.SignerInfos([signer])
    new = rebuilt(content, **content_changes)
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": new}).dump())


def _signed_attrs(signed: bytes) -> list[cms.CMSAttribute]:
    return list(cms.ContentInfo.load(signed)["content"]["signer_infos"][0]["signed_attrs"])


def _certificate_with_critical_extension(ca_key: object, ca_cert: x509.Certificate,
                                         key: object) -> x509.Certificate:  # fmt: skip
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Ivan Ivanov")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())  # type: ignore[attr-defined]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.7"), b"\x05\x00"),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )


def build(ca_key: object, ca_cert: x509.Certificate, key: object,
          cert: x509.Certificate) -> dict[str, Case]:  # fmt: skip
    """Every case, from one CA and one signer (keys and certificates of a test PKI)."""
    attached = sign(DOCUMENT, signer=(key, cert), detached=False)  # type: ignore[arg-type]
    detached = sign(DOCUMENT, signer=(key, cert))  # type: ignore[arg-type]
    other = sign(b"another return", signer=(key, cert), detached=False)  # type: ignore[arg-type]
    content = cms.ContentInfo.load(attached)["content"]
    signer = content["signer_infos"][0]
    attrs = _signed_attrs(attached)
    by_type = {a["type"].native: a for a in attrs}
    cert_der = cert.public_bytes(serialization.Encoding.DER)
    cases: dict[str, Case] = {}

    # -- truncated and length games ---------------------------------------------------
    cases["truncated-half"] = Case(attached[: len(attached) // 2])
    cases["truncated-last-byte"] = Case(attached[:-1])
    cases["truncated-header"] = Case(attached[:3])
    cases["huge-outer-length"] = Case(b"\x30\x84\x7f\xff\xff\xff" + attached[4:])
    cases["length-of-length-9"] = Case(b"\x30\x89" + b"\xff" * 9 + attached[4:])
    cases["indefinite-without-end"] = Case(b"\x30\x80" + attached[4:])
    cases["trailing-garbage"] = Case(attached + b"\x00" * 16)
    cases["indefinite-length-certificate"] = Case(
        attached, certificate=b"\x30\x80" + cert_der[4:] + b"\x00\x00"
    )
    # -- wrong tags ---------------------------------------------------------------------
    cases["outer-set"] = Case(b"\x31" + attached[1:])
    cases["content-type-not-oid"] = Case(attached[:4] + b"\x04" + attached[5:])
    cases["enveloped-not-signed"] = Case(
        bytes(cms.ContentInfo({"content_type": "enveloped_data",
                               "content": cms.EnvelopedData({"version": "v0",
                                   "recipient_infos": [], "encrypted_content_info": {
                                       "content_type": "data",
                                       "content_encryption_algorithm": {
                                           "algorithm": "aes256_cbc",
                                           "parameters": b"\x00" * 16}}})}).dump())
    )  # fmt: skip
    # -- duplicated attributes ------------------------------------------------------------
    duplicated = [*attrs, by_type["message_digest"]]
    cases["duplicated-message-digest"] = Case(
        _replace(attached, signer_changes={"signed_attrs": cms.CMSAttributes(duplicated)})
    )
    digest_value = by_type["message_digest"]["values"][0]
    two_values = cms.CMSAttribute(
        {"type": "message_digest", "values": [digest_value, core.OctetString(b"\x00" * 32)]}
    )
    without_digest = [a for a in attrs if a["type"].native != "message_digest"]
    cases["two-valued-message-digest"] = Case(
        _replace(attached, signer_changes={
            "signed_attrs": cms.CMSAttributes([*without_digest, two_values])})
    )  # fmt: skip
    # -- signature wrapping ---------------------------------------------------------------
    cases["signer-moved-to-other-content"] = Case(
        _replace(other, signer_infos=cms.SignerInfos([signer]))
    )
    cases["detached-given-other-document"] = Case(detached, data=b"another return")
    cases["attached-and-other-data"] = Case(attached, data=b"another return")
    inner = cms.ContentInfo({"content_type": "data", "content": other})
    nested = cms.ContentInfo(
        {"content_type": "signed_data", "content": rebuilt(content, encap_content_info=inner)}
    ).dump()
    cases["wrapped-inner-signed-data"] = Case(bytes(nested))
    # -- unsigned attributes posing as signed ---------------------------------------------
    cases["message-digest-moved-to-unsigned"] = Case(
        _replace(attached, signer_changes={
            "signed_attrs": cms.CMSAttributes(without_digest),
            "unsigned_attrs": cms.CMSAttributes([by_type["message_digest"]])})
    )  # fmt: skip
    bare = cms.SignerInfo({
        name: signer[name] for name, *_ in signer._fields
        if name != "signed_attrs" and not isinstance(signer[name], core.Void)})  # fmt: skip
    cases["no-signed-attributes"] = Case(_replace(attached, signer_infos=cms.SignerInfos([bare])))
    # -- unknown critical extension ---------------------------------------------------------
    odd = _certificate_with_critical_extension(ca_key, ca_cert, key)
    cases["unknown-critical-extension"] = Case(
        sign(DOCUMENT, signer=(key, odd), detached=False)  # type: ignore[arg-type]
    )
    # -- algorithm downgrades ---------------------------------------------------------------
    for name in ("md5", "sha1"):
        digest = algos.DigestAlgorithm({"algorithm": name})
        cases[f"digest-downgraded-to-{name}"] = Case(
            _replace(attached, digest_algorithms=cms.DigestAlgorithms([digest]),
                     signer_changes={"digest_algorithm": digest})
        )  # fmt: skip
    for label, oid in (("sha1-ecdsa", "sha1_ecdsa"), ("unknown-gost", "1.2.643.7.1.1.3.3")):
        algorithm = algos.SignedDigestAlgorithm({"algorithm": oid})
        cases[f"signature-algorithm-{label}"] = Case(
            _replace(attached, signer_changes={"signature_algorithm": algorithm})
        )
    # -- zero-length and giant ---------------------------------------------------------------
    cases["zero-length-signature"] = Case(b"")
    cases["zero-length-document"] = Case(detached, data=b"")
    cases["detached-without-document"] = Case(detached)
    cases["giant-claimed-content"] = Case(b"\x30\x84\x10\x00\x00\x00" + attached[6:] * 4)
    cases["deep-nesting"] = Case(b"\x30\x80" * 5000 + b"\x00\x00" * 5000)
    cases["text-not-a-signature"] = Case(DOCUMENT)
    cases["pem-certificate-not-signature"] = Case(cert.public_bytes(serialization.Encoding.PEM))
    return cases


def main(folder: str) -> None:
    from esign.certs import CertificateAuthority
    from esign.keys import generate_key

    ca = CertificateAuthority.create_root("CN=Corpus Root CA")
    key = generate_key("ec-p256")
    cert = ca.issue(key.public_key(), subject="CN=Corpus Signer", profile="signing")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for name, case in build(ca.key, ca.certificate, key, cert).items():
        (out / f"{name}.p7s").write_bytes(case.signature)
        if case.data is not None:
            (out / f"{name}.data").write_bytes(case.data)
        if case.certificate is not None:
            (out / f"{name}.cert.der").write_bytes(case.certificate)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "corpus")
