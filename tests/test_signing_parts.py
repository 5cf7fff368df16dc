"""The signing path that writes CMS from precomputed parts, against pyHanko's signer.

pyHanko's ``SimpleSigner`` is the reference: for every algorithm, detached or not, with a
chain and an extra signed attribute, esign's SignedData must be the same bytes field by
field except the signature value (Ed25519 signatures are deterministic, so there the
whole output is byte-identical). Key handles (the hosted vault) sign through the same
path; openssl and pyHanko's validator accept what comes out; a certificate whose key usage
cannot sign is refused before the document is read.
"""

from __future__ import annotations

import datetime
import io
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mldsa
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
from pyhanko_certvalidator import ValidationContext

from esign import sign, verify
from esign._sync import run_sync
from esign.certs import CertificateAuthority, TrustContext
from esign.certs.trust import to_asn1
from esign.errors import EsignError, KeyUsageError
from esign.keys import KeyVault, LocalKey, generate_key
from esign.keys.vault import Argon2Params
from esign.signing.sign import _pyhanko_signer, countersign, digest_for, sign_digest
from esign.signing.signer_parts import clear_cache, set_of, tlv

from . import _signing_pki as helpers
from .conftest import run

DOC = b"Tax return 2026: income 1,000,000 RUB\n"
WHEN = datetime.datetime(2026, 3, 1, 12, 30, 5, tzinfo=datetime.timezone.utc)
ALGORITHMS = ["ec-p256", "ec-p384", "rsa-3072", "ed25519", "ml-dsa-65"]


@pytest.fixture(scope="module")
def pki() -> dict[str, Any]:
    root = CertificateAuthority.create_root("CN=Parts Root")
    inter = root.create_intermediate("CN=Parts Issuing CA")
    signers = {}
    for alg in ALGORITHMS:
        if alg.startswith("ml-dsa"):
            key: Any = mldsa.MLDSA65PrivateKey.generate()
            cert = helpers.issue(inter, key.public_key(), "PQ signer")
        else:
            key = generate_key(alg)
            cert = inter.issue(key.public_key(), subject=f"CN={alg} signer", profile="signing")
        signers[alg] = (key, cert)
    return {"root": root, "inter": inter, "signers": signers}


def _reference(key: Any, cert: Any, chain: list[Any], detached: bool, extra: list[Any]) -> bytes:
    signer = _pyhanko_signer(key, cert, chain)
    original = signer._signed_attr_providers

    def providers(*args: Any, **kwargs: Any) -> Any:
        from pyhanko.sign.attributes import CMSAttributeProvider

        class Fixed(CMSAttributeProvider):  # type: ignore[misc]
            def __init__(self, attribute: cms.CMSAttribute) -> None:
                self.attribute = attribute
                self.attribute_type = attribute["type"].native

            async def get_attribute(self, dry_run: bool = False) -> cms.CMSAttribute:
                return self.attribute

        yield from original(*args, **kwargs)
        for attribute in extra:
            yield Fixed(attribute)

    signer._signed_attr_providers = providers
    settings = PdfCMSSignedAttributes(signing_time=WHEN)
    info = run_sync(
        signer.async_sign_general_data(
            DOC, digest_for(key), detached=detached, signed_attr_settings=settings
        )
    )
    der: bytes = info.dump()
    return der


def _fields(der: bytes) -> dict[str, bytes]:
    """Every encoded field of the SignedData and its one SignerInfo, but the signature."""
    signed = cms.ContentInfo.load(der)["content"]
    out = {name: signed[name].dump() for name in ("version", "digest_algorithms", "certificates")}
    out["encap"] = signed["encap_content_info"].dump()
    info = signed["signer_infos"][0]
    for name in ("version", "sid", "digest_algorithm", "signed_attrs", "signature_algorithm"):
        out[f"signer.{name}"] = info[name].dump()
    return out


@pytest.mark.parametrize("alg", ALGORITHMS)
@pytest.mark.parametrize("detached", [True, False])
def test_same_bytes_as_pyhankos_signer(pki: dict[str, Any], alg: str, detached: bool) -> None:
    key, cert = pki["signers"][alg]
    chain = [pki["inter"].certificate, pki["root"].certificate]
    extra = [cms.CMSAttribute({"type": "1.2.3.4.5", "values": [cms.ContentType("data")]})]
    clear_cache()
    ours = sign(
        DOC, signer=(key, cert), chain=chain, detached=detached, clock=lambda: WHEN,
        signed_attributes=extra,
    )  # fmt: skip
    reference = _reference(key, cert, chain, detached, extra)
    assert _fields(ours) == _fields(reference)
    if alg == "ed25519":  # deterministic signatures: the whole thing is the same
        assert ours == reference
    # a second signature (from the cache) has the same parts
    again = sign(DOC, signer=(key, cert), chain=chain, detached=detached, clock=lambda: WHEN)
    assert _fields(again)["certificates"] == _fields(ours)["certificates"]
    trust = TrustContext([pki["root"].certificate], crls=[pki["root"].crl(), pki["inter"].crl()])
    assert verify(again, None if not detached else DOC, trust=trust).valid


@pytest.mark.parametrize("alg", ["ec-p256", "ec-p384", "rsa-3072", "ed25519"])
def test_openssl_and_pyhanko_accept(
    pki: dict[str, Any], alg: str, openssl: str, tmp_path: Path
) -> None:
    key, cert = pki["signers"][alg]
    der = sign(DOC, signer=(key, cert), chain=[pki["inter"].certificate])
    if alg != "ed25519":  # openssl 3.0 refuses Ed25519 with a SHA-512 message digest
        _openssl_verifies(openssl, tmp_path, der, pki["root"])
    _pyhanko_accepts(der, pki["root"])


def _openssl_verifies(openssl: str, folder: Path, der: bytes, root: CertificateAuthority) -> None:
    (folder / "s.p7s").write_bytes(der)
    (folder / "d").write_bytes(DOC)
    (folder / "ca.pem").write_bytes(root.certificate.public_bytes(serialization.Encoding.PEM))
    result = run(
        openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", folder / "s.p7s",
        "-content", folder / "d", "-CAfile", folder / "ca.pem", "-purpose", "any",
        "-out", "/dev/null",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (folder / "d").write_bytes(DOC + b"!")
    result = run(
        openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", folder / "s.p7s",
        "-content", folder / "d", "-CAfile", folder / "ca.pem", "-purpose", "any",
        "-out", "/dev/null",
    )  # fmt: skip
    assert result.returncode != 0


def _pyhanko_accepts(der: bytes, root: CertificateAuthority) -> None:
    signed = cms.ContentInfo.load(der)["content"]
    context = ValidationContext(trust_roots=[to_asn1(root.certificate)], allow_fetching=False)
    status = run_sync(async_validate_detached_cms(DOC, signed, signer_validation_context=context))
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()


@pytest.mark.parametrize("alg", ["ec-p256", "rsa-3072", "ed25519", "ml-dsa-65"])
def test_vault_key_signs(pki: dict[str, Any], alg: str, openssl: str, tmp_path: Path) -> None:
    vault = KeyVault(":memory:", kdf=Argon2Params(iterations=1, lanes=1, memory_cost=8 * 1024))
    public = vault.create_key("ivanov", alg, "s3cret")
    inter = pki["inter"]
    if alg.startswith("ml-dsa"):
        cert = helpers.issue(inter, public, "PQ vault signer")
    else:
        cert = inter.issue(public, subject="CN=Vault signer", profile="signing")
    with vault.unlock("ivanov", "s3cret") as handle:
        der = sign(DOC, signer=(handle, cert), chain=[inter.certificate])
        countersigned = countersign(der, signer=(handle, cert))
    trust = TrustContext([pki["root"].certificate], crls=[pki["root"].crl(), pki["inter"].crl()])
    assert verify(der, DOC, trust=trust).valid
    assert verify(countersigned, DOC, trust=trust).valid
    assert not verify(der, DOC + b"!", trust=trust).valid
    if alg in ("ec-p256", "rsa-3072"):
        _openssl_verifies(openssl, tmp_path, der, pki["root"])
    if not alg.startswith("ml-dsa"):
        _pyhanko_accepts(der, pki["root"])
    if alg == "rsa-3072":  # a handle signs with a salt as long as the hash (RFC 4055)
        info = cms.ContentInfo.load(der)["content"]["signer_infos"][0]
        assert info["signature_algorithm"]["parameters"]["salt_length"].native == 32


def test_local_key_handle_is_the_key(pki: dict[str, Any]) -> None:
    key, cert = pki["signers"]["ed25519"]
    assert sign(DOC, signer=(LocalKey(key), cert), clock=lambda: WHEN) == sign(
        DOC, signer=(key, cert), clock=lambda: WHEN
    )


class _Unreadable(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise AssertionError("the document was read before the certificate was checked")


def test_certificate_that_cannot_sign_is_refused_first(pki: dict[str, Any]) -> None:
    key = generate_key("ec-p256")
    cert = pki["inter"].issue(key.public_key(), subject="CN=Encryption", profile="encryption")
    with pytest.raises(KeyUsageError, match="key usage"):
        sign(_Unreadable(), signer=(key, cert))
    with pytest.raises(KeyUsageError):
        countersign(sign(DOC, signer=pki["signers"]["ec-p256"]), signer=(key, cert))


def test_wrong_key_is_refused(pki: dict[str, Any]) -> None:
    key, _ = pki["signers"]["ec-p256"]
    _, other = pki["signers"]["ec-p384"]
    with pytest.raises(EsignError, match="does not belong"):
        sign(DOC, signer=(key, other))
    with pytest.raises(ValueError, match="timezone"):
        sign(DOC, signer=pki["signers"]["ec-p256"], clock=lambda: datetime.datetime(2026, 1, 1))


def test_der_helpers_match_asn1crypto() -> None:
    for size in (0, 1, 127, 128, 255, 256, 70000):
        body = bytes(size)
        assert tlv(0x04, body) == cms.OctetString(body).dump()
    values = [cms.ContentType(x).dump() for x in ("data", "signed_data", "enveloped_data")]
    assert set_of(values) == cms.SetOfContentType([cms.ContentType.load(v) for v in values]).dump()


def test_signing_time_after_2049_is_generalized_time(pki: dict[str, Any]) -> None:
    later = datetime.datetime(2051, 1, 1, tzinfo=datetime.timezone.utc)
    der = sign(DOC, signer=pki["signers"]["ec-p256"], clock=lambda: later)
    attrs = cms.ContentInfo.load(der)["content"]["signer_infos"][0]["signed_attrs"]
    times = [a["values"][0] for a in attrs if a["type"].native == "signing_time"]
    assert times[0].name == "generalized_time" and times[0].native == later


def test_sign_digest_writes_what_sign_writes(pki: dict[str, Any]) -> None:
    import hashlib

    key, cert = pki["signers"]["ed25519"]
    extra = [cms.CMSAttribute({"type": "1.2.3.4.5", "values": [cms.ContentType("data")]})]
    digest = hashlib.new(digest_for(key), DOC).digest()
    made = sign_digest(digest, signer=(key, cert), clock=lambda: WHEN, signed_attributes=extra)
    assert made == sign(DOC, signer=(key, cert), clock=lambda: WHEN, signed_attributes=extra)
    with pytest.raises(ValueError, match="sha512"):
        sign_digest(digest[:32], signer=(key, cert))


def test_stream_input_is_hashed_in_chunks(pki: dict[str, Any]) -> None:
    key, cert = pki["signers"]["ed25519"]
    big = bytes(range(256)) * 9000  # more than one chunk
    assert sign(io.BytesIO(big), signer=(key, cert), clock=lambda: WHEN) == sign(
        big, signer=(key, cert), clock=lambda: WHEN
    )
    attached = sign(io.BytesIO(DOC), signer=(key, cert), clock=lambda: WHEN, detached=False)
    assert attached == sign(DOC, signer=(key, cert), clock=lambda: WHEN, detached=False)


def test_keys_doc_example_signs_with_a_vault_handle() -> None:
    """The "Signing with a handle" example of docs/keys.md runs as written."""
    import re

    doc = (Path(__file__).resolve().parents[1] / "docs" / "keys.md").read_text()
    section = doc[doc.index("## Signing with a handle") :]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block is not None
    exec(compile(block.group(1), "docs/keys.md", "exec"), {})  # our own docs, as written


@pytest.mark.parametrize("detached", [True, False])
def test_other_content_types_as_pyhanko_writes_them(pki: dict[str, Any], detached: bool) -> None:
    """Content of another type than id-data (a simple-signature statement): a v3 SignedData
    whose content-type attribute names that type, field by field as pyHanko's signer."""
    from asn1crypto import core

    key, cert = pki["signers"]["ed25519"]
    content = cms.EncapsulatedContentInfo(
        {"content_type": "1.2.643.100.999", "content": core.ParsableOctetString(b"statement")}
    )
    ours = sign(content, signer=(key, cert), detached=detached, clock=lambda: WHEN)  # type: ignore[arg-type]
    settings = PdfCMSSignedAttributes(signing_time=WHEN)
    reference = run_sync(
        _pyhanko_signer(key, cert, ()).async_sign_general_data(
            content, "sha512", detached=detached, signed_attr_settings=settings
        )
    ).dump()
    assert ours == reference  # Ed25519 is deterministic: the very same bytes
    assert cms.ContentInfo.load(ours)["content"]["version"].native == "v3"
