"""The verification fast path (esign.signing.fast_verify over esign.signing.der) against
the reference verifier (esign.signing.verify without it), on one corpus.

The fast path may step aside (None) for anything; when it answers, its report must be the
reference's: the same indication, sub-indication, validity, level, signer, findings and
every other field. Ordinary signatures of every algorithm esign signs with must be
answered by the fast path (otherwise it would be dead code that passes every comparison).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import io
import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given
from hypothesis import strategies as st

import esign
from esign.certs import CertificateAuthority, TrustContext
from esign.errors import EsignError, MalformedInputError
from esign.keys import generate_key
from esign.signing import der, fast_verify
from esign.signing.report import VerificationReport
from esign.signing.sign import rebuilt

from .conftest import Pki
from .hostile.corpus import DOCUMENT, build

ALGORITHMS = ("ec-p256", "ec-p384", "ed25519", "rsa-3072", "ml-dsa-65")
NOW = datetime.datetime.now(datetime.timezone.utc)


def _fields(report: VerificationReport, at: datetime.datetime | None) -> Any:
    fields = report.to_dict()
    if at is None:  # "now" moves between the two runs (and messages quote it)
        fields.pop("validation_time")
        return _NOW_IN_TEXT.sub("<now>", json.dumps(fields))
    return fields


_NOW_IN_TEXT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00")


def _reference(monkeypatch: pytest.MonkeyPatch, call: Callable[[], VerificationReport]) -> Any:
    """What the reference verifier says (a report, or the error it raises)."""
    with monkeypatch.context() as patched:
        patched.setattr(fast_verify, "verify", lambda *args, **kwargs: None)
        patched.setattr(fast_verify, "stream_digests", lambda *args, **kwargs: None)
        try:
            return call()
        except (EsignError, ValueError) as exc:
            return type(exc)


def _fast(signature: bytes, data: bytes | None, trust: TrustContext, **options: Any) -> Any:
    options.setdefault("at", None)
    return fast_verify.verify(
        signature,
        data,
        trust=trust,
        at=options["at"],
        certificates=options.get("certificates", []),
        trusted_lists=options.get("trusted_lists", []),
        jurisdiction=options.get("jurisdiction", "eidas"),
        digests=options.get("digests"),
    )


def compare(
    monkeypatch: pytest.MonkeyPatch,
    signature: bytes,
    data: bytes | None,
    trust: TrustContext,
    **options: Any,
) -> VerificationReport | None:
    """Run both paths; when the fast one answers, it must say what the reference says."""
    at = options.get("at")
    reference = _reference(
        monkeypatch, lambda: esign.verify(signature, data, trust=trust, **options)
    )
    try:
        fast = _fast(signature, data, trust, **options)
    except EsignError as exc:  # only what the reference raises too (unreadable PEM, size)
        assert reference is type(exc)
        return None
    if fast is None:
        return None
    assert isinstance(reference, VerificationReport), (reference, fast)
    assert _fields(fast, at) == _fields(reference, at)
    assert fast.signer == reference.signer and fast.chain == reference.chain
    # and through the public function, which takes the fast path
    assert _fields(esign.verify(signature, data, trust=trust, **options), at) == _fields(
        reference, at
    )
    return fast


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    # Issued as of NOW (taken at import): under pytest-xdist this fixture may run minutes
    # after collection, and certificates issued then would not be valid yet at NOW.
    moment = [NOW - datetime.timedelta(minutes=1)]
    ca = CertificateAuthority.create_root(
        "CN=Fast Path Root CA,O=Tax Service", clock=lambda: moment[0]
    )
    signers = {}
    for alg in ALGORITHMS:
        key = generate_key(alg)
        signers[alg] = (key, ca.issue(key.public_key(), subject=f"CN={alg}", profile="signing"))
    revoked_key = generate_key("ec-p256")
    revoked = ca.issue(revoked_key.public_key(), subject="CN=Revoked", profile="signing")
    # revoked (and CRLs made) after NOW; a CRL dates revocations to the second, so at
    # least a second after NOW or the revocation date could fall at or before it
    while datetime.datetime.now(datetime.timezone.utc) < NOW + datetime.timedelta(seconds=1):
        time.sleep(0.05)
    moment[0] = datetime.datetime.now(datetime.timezone.utc)
    ca.revoke(revoked.serial_number, reason="keyCompromise")
    return {"ca": ca, "signers": signers, "revoked": (revoked_key, revoked)}


@pytest.mark.parametrize("alg", ALGORITHMS)
@pytest.mark.parametrize("detached", [True, False])
@pytest.mark.parametrize("at", [NOW, None])
def test_ordinary_signatures_take_the_fast_path_and_agree(
    monkeypatch: pytest.MonkeyPatch,
    world: dict[str, Any],
    alg: str,
    detached: bool,
    at: datetime.datetime | None,
) -> None:
    key, cert = world["signers"][alg]
    ca = world["ca"]
    signature = esign.sign(DOCUMENT, signer=(key, cert), detached=detached)
    data = DOCUMENT if detached else None
    trust = TrustContext([ca.certificate], crls=[ca.crl()])
    report = compare(monkeypatch, signature, data, trust, at=at)
    assert report is not None and report.valid, report
    # PEM in, the certificate given rather than embedded, revocation opted out, trusted list
    pem = b"-----BEGIN CMS-----\n" + base64.encodebytes(signature) + b"-----END CMS-----\n"
    assert compare(monkeypatch, pem, data, trust, at=at) is not None
    unchecked = TrustContext([ca.certificate], check_revocation=False)
    assert compare(monkeypatch, signature, data, unchecked, at=at, certificates=[cert])
    # not valid: another document (the reference decides), another CA (the fast path)
    if detached:
        assert compare(monkeypatch, signature, b"other", trust, at=at) is None
    stranger = CertificateAuthority.create_root("CN=Stranger")
    untrusted = compare(monkeypatch, signature, data, TrustContext([stranger.certificate]), at=at)
    assert untrusted is not None and not untrusted.valid
    revocation_unknown = compare(monkeypatch, signature, data, TrustContext([ca.certificate]))
    assert revocation_unknown is not None and revocation_unknown.subindication is not None


def test_path_verdicts_agree(monkeypatch: pytest.MonkeyPatch, world: dict[str, Any]) -> None:
    ca = world["ca"]
    key, cert = world["revoked"]
    signature = esign.sign(DOCUMENT, signer=(key, cert))
    trust = TrustContext([ca.certificate], crls=[ca.crl()])
    # before the revocation (NOW was taken before it): valid, with a warning; now: revoked;
    # before the certificate and after its expiry: out of bounds
    for at in (NOW, None, NOW - datetime.timedelta(days=400), NOW + datetime.timedelta(days=4000)):
        report = compare(monkeypatch, signature, DOCUMENT, trust, at=at)
        assert report is not None
        assert report.valid is (at == NOW), report
        assert report.valid or report.errors[0].code in ("revoked", "not_yet_valid", "expired")


def test_digests_instead_of_data(monkeypatch: pytest.MonkeyPatch, world: dict[str, Any]) -> None:
    key, cert = world["signers"]["ec-p256"]
    ca = world["ca"]
    signature = esign.sign(DOCUMENT, signer=(key, cert))
    trust = TrustContext([ca.certificate], crls=[ca.crl()])
    good = {"sha256": hashlib.sha256(DOCUMENT).digest()}
    assert compare(monkeypatch, signature, None, trust, digests=good) is not None
    assert compare(monkeypatch, signature, None, trust, digests={"sha256": b"\0" * 32}) is None
    assert compare(monkeypatch, signature, None, trust, digests={"sha512": b"\0" * 64}) is None


@pytest.mark.parametrize("at", [NOW, None])
def test_a_streamed_document_takes_the_fast_path(
    monkeypatch: pytest.MonkeyPatch, world: dict[str, Any], at: datetime.datetime | None
) -> None:
    key, cert = world["signers"]["ed25519"]
    ca = world["ca"]
    trust = TrustContext([ca.certificate], crls=[ca.crl()])
    answered: list[VerificationReport | None] = []
    fast = fast_verify.verify

    def recording(*args: Any, **kwargs: Any) -> VerificationReport | None:
        answered.append(fast(*args, **kwargs))
        return answered[-1]

    for document, detached in ((DOCUMENT, True), (b"another return", True), (DOCUMENT, False)):
        signature = esign.sign(DOCUMENT, signer=(key, cert), detached=detached)
        reference = _reference(
            monkeypatch,
            lambda s=signature, d=document: esign.verify(s, io.BytesIO(d), trust=trust, at=at),
        )
        with monkeypatch.context() as patched:
            patched.setattr(fast_verify, "verify", recording)
            report = esign.verify(signature, io.BytesIO(document), trust=trust, at=at)
        assert _fields(report, at) == _fields(reference, at)
        assert report.valid is (document == DOCUMENT)
    # the ordinary detached signature was decided fast, from the streamed digest
    assert answered[0] is not None and answered[0].valid


def test_hostile_corpus_agrees(monkeypatch: pytest.MonkeyPatch, pki: Pki) -> None:
    from cryptography import x509

    answered = 0
    for name, case in build(pki.ca.key, pki.ca.certificate, pki.ivanov_key,
                            pki.ivanov_cert).items():  # fmt: skip
        extra = []
        if case.certificate is not None:
            try:
                extra = [x509.load_der_x509_certificate(case.certificate)]
            except ValueError:
                continue
        report = compare(monkeypatch, case.signature, case.data, pki.trust, certificates=extra)
        if report is not None:
            answered += 1
            assert not report.valid, name
    assert answered <= 2  # the unknown-critical-extension case: a path failure, decided fast


@pytest.fixture(scope="module")
def mutable(world: dict[str, Any]) -> dict[str, tuple[bytes, bytes | None]]:
    """Signatures to mutate: attached ec-p256, detached RSA-PSS (parameters to break)."""
    ec_key, ec_cert = world["signers"]["ec-p256"]
    rsa_key, rsa_cert = world["signers"]["rsa-3072"]
    return {
        "ec-p256": (esign.sign(DOCUMENT, signer=(ec_key, ec_cert), detached=False), None),
        "rsa-3072": (esign.sign(DOCUMENT, signer=(rsa_key, rsa_cert)), DOCUMENT),
    }


@given(
    which=st.sampled_from(["ec-p256", "rsa-3072"]),
    position=st.integers(min_value=0),
    change=st.sampled_from(["flip", "insert", "delete", "truncate", "zero"]),
    value=st.integers(min_value=0, max_value=255),
)
def test_mutations_agree(
    monkeypatch: pytest.MonkeyPatch,
    world: dict[str, Any],
    mutable: dict[str, tuple[bytes, bytes | None]],
    which: str,
    position: int,
    change: str,
    value: int,
) -> None:
    signature, data = mutable[which]
    ca = world["ca"]
    trust = TrustContext([ca.certificate], crls=[ca.crl()])
    i = position % len(signature)
    mutated = {
        "flip": signature[:i] + bytes([signature[i] ^ (value or 1)]) + signature[i + 1 :],
        "insert": signature[:i] + bytes([value]) + signature[i:],
        "delete": signature[:i] + signature[i + 1 :],
        "truncate": signature[:i],
        "zero": signature[:i] + b"\x00" + signature[i + 1 :],
    }[change]
    compare(monkeypatch, mutated, data, trust, at=NOW)  # same verdict, or the reference's


# -- the strict reader ------------------------------------------------------------------


def _signed(world: dict[str, Any]) -> bytes:
    key, cert = world["signers"]["ec-p256"]
    return esign.sign(DOCUMENT, signer=(key, cert), detached=False)


def test_reader_splits_an_ordinary_signature(world: dict[str, Any]) -> None:
    signature = _signed(world)
    parts = der.split_signed_data(signature)
    reference = cms.ContentInfo.load(signature)["content"]
    signer = reference["signer_infos"][0]
    assert parts.content is not None and parts.content.tobytes() == DOCUMENT
    assert parts.content_type == "1.2.840.113549.1.7.1"
    assert [c.tobytes() for c in parts.certificates] == [
        c.chosen.dump() for c in reference["certificates"]
    ]
    assert parts.signer.signed_attributes.tobytes() == signer["signed_attrs"].dump()
    assert parts.signer.signature.tobytes() == signer["signature"].native
    assert parts.signer.issuer.tobytes() == signer["sid"].chosen["issuer"].dump()
    assert parts.signer.serial == signer["sid"].chosen["serial_number"].native
    attrs = {a["type"].native: a["values"][0] for a in signer["signed_attrs"]}
    assert parts.signer.message_digest.tobytes() == attrs["message_digest"].native
    assert parts.signer.signing_time == attrs["signing_time"].native
    assert parts.signer.ess is not None and parts.signer.ess_v2
    cert_der = world["signers"]["ec-p256"][1].public_bytes(Encoding.DER)
    assert parts.signer.ess.cert_hash == hashlib.sha256(cert_der).digest()
    # the input is sliced, not copied
    assert parts.signer.signature.obj is signature


def _reencode_signer(signature: bytes, **changes: object) -> bytes:
    content = cms.ContentInfo.load(signature)["content"]
    signer = rebuilt(content["signer_infos"][0], **changes)
    new = rebuilt(content, signer_infos=cms.SignerInfos([signer]))
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": new}).dump())


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda s: b"\x30\x80" + s[4:] + b"\x00\x00", id="indefinite-length"),
        pytest.param(lambda s: b"\x30\x83\x00" + s[2:], id="non-minimal-length"),
        pytest.param(lambda s: s + b"\x00", id="trailing-byte"),
        pytest.param(lambda s: s[:-1], id="truncated"),
    ],
)
def test_reader_refuses_what_is_not_plain_der(
    world: dict[str, Any], mangle: Callable[[bytes], bytes]
) -> None:
    signature = _signed(world)
    assert signature[1] == 0x82  # a two-byte length, which the cases rewrite
    with pytest.raises(der.NotPlain):
        der.split_signed_data(mangle(signature))


def test_reader_refuses_signed_attributes_out_of_der_order(
    monkeypatch: pytest.MonkeyPatch, world: dict[str, Any]
) -> None:
    signature = _signed(world)
    whole = der.split_signed_data(signature).signer.signed_attributes
    start = signature.index(whole.tobytes())
    view = memoryview(signature)
    _, _, inner, end = der.tlv(view, start, len(view))
    members = [view[m[1] : m[3]].tobytes() for m in der.children(view, inner, end)]
    # the same attributes, reversed (the lengths do not change)
    swapped = signature[:inner] + b"".join(members[::-1]) + signature[end:]
    with pytest.raises(der.NotPlain, match="order"):
        der.split_signed_data(swapped)
    # the reference decides it (the signature was made over the sorted encoding)
    ca = world["ca"]
    trust = TrustContext([ca.certificate], crls=[ca.crl()])
    assert compare(monkeypatch, swapped, None, trust) is None
    assert not esign.verify(swapped, trust=trust).valid


@pytest.mark.parametrize(
    "raw",
    [
        b"\x02\x02\x00\x01",  # INTEGER with a needless leading zero
        b"\x02\x02\xff\x80",  # ... a needless leading 0xff
        b"\x06\x02\x80\x01",  # OID sub-identifier with a leading 0x80
        b"\x06\x01\x81",  # OID ending mid sub-identifier
        b"\x01\x01\x01",  # BOOLEAN neither 00 nor ff
        b"\x05\x01\x00",  # NULL with content
        b"\x24\x03\x04\x01\x00",  # constructed OCTET STRING
        b"\x31\x06\x04\x01\x02\x04\x01\x01",  # SET OF out of order
        b"\x03\x02\x01\x01",  # BIT STRING with non-zero padding
        b"\x17\x0b9901010000Z",  # UTCTime without seconds
        b"\x1f\x81\x00\x00",  # high tag number
    ],
)
def test_der_check_refuses_ber(raw: bytes) -> None:
    with pytest.raises(der.NotPlain):
        der.check_der(memoryview(raw), 0, len(raw))


def test_der_check_accepts_der() -> None:
    raw = b"\x31\x06\x04\x01\x01\x04\x01\x02" + b"\x02\x02\x00\x80" + b"\x17\x0d991231235959Z"
    der.check_der(memoryview(raw), 0, len(raw))
    assert der.time(memoryview(raw), der.tlv(memoryview(raw), 12, len(raw))) == datetime.datetime(
        1999, 12, 31, 23, 59, 59, tzinfo=datetime.timezone.utc
    )


@pytest.mark.parametrize("attached", [False, True])
def test_an_altered_signed_data_version_is_never_valid(
    monkeypatch: pytest.MonkeyPatch, world: dict[str, Any], attached: bool
) -> None:
    """The version is not signed: 1 -> 3 on id-data content must not pass on the fast path
    (the reference refuses it because RFC 5652 §5.1 derives the version from the structure)."""
    key, cert = world["signers"]["ec-p256"]
    signature = esign.sign(DOCUMENT, signer=(key, cert), detached=not attached)
    info = cms.ContentInfo.load(signature)
    assert info["content"]["version"].native == "v1"
    altered = bytearray(signature)
    marker = bytes.fromhex("020101")  # SignedData's version: the first INTEGER inside [0]
    at = altered.index(marker)
    altered[at + 2] = 3
    trust = TrustContext([world["ca"].certificate], crls=[world["ca"].crl()])
    data = None if attached else DOCUMENT
    assert _fast(bytes(altered), data, trust, at=NOW) is None
    with pytest.raises(MalformedInputError, match="says version 3 where its structure requires 1"):
        esign.verify(bytes(altered), data, trust=trust, at=NOW)
    assert compare(monkeypatch, bytes(altered), data, trust, at=NOW) is None


@pytest.mark.parametrize("attached", [False, True])
def test_no_single_bit_flip_anywhere_leaves_a_signature_valid(
    world: dict[str, Any], attached: bool
) -> None:
    """Every byte of an ordinary signature, two bits each: never valid. This found that a
    changed digestAlgorithms entry (not signed) was accepted by both verifiers."""
    key, cert = world["signers"]["ec-p256"]
    signature = esign.sign(DOCUMENT, signer=(key, cert), detached=not attached)
    trust = TrustContext([world["ca"].certificate], crls=[world["ca"].crl()])
    data = None if attached else DOCUMENT
    assert esign.verify(signature, data, trust=trust, at=NOW).valid
    still_valid = []
    for index in range(len(signature)):
        for mask in (0x01, 0x80):
            flipped = bytearray(signature)
            flipped[index] ^= mask
            try:
                if esign.verify(bytes(flipped), data, trust=trust, at=NOW).valid:
                    still_valid.append((index, mask))
            except EsignError:
                pass
    assert still_valid == []
