"""The direct integrity check (esign.signing.integrity) against pyHanko's reference
(``validate_sig_integrity``) on one corpus: genuine signatures of every algorithm, and
the same signatures with their content, attributes, signature value or certificate
changed. Wherever the direct check answers, it answers as pyHanko does."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives.asymmetric import mldsa
from hypothesis import given
from hypothesis import strategies as st
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import validate_sig_integrity

import esign
from esign.certs import CertificateAuthority
from esign.certs.trust import to_asn1
from esign.keys import generate_key
from esign.signing import integrity

from . import _signing_pki as helpers

DOC = b"tax return 2026"
DATA_OID = "1.2.840.113549.1.7.1"
ALGORITHMS = ["ec-p256", "ec-p384", "rsa-3072", "ed25519", "ml-dsa-65"]


@pytest.fixture(scope="module")
def corpus() -> dict[str, tuple[Any, Any, bytes]]:
    ca = CertificateAuthority.create_root("CN=Reference Root")
    out = {}
    for alg in ALGORITHMS:
        if alg.startswith("ml-dsa"):
            key: Any = mldsa.MLDSA65PrivateKey.generate()
            cert = helpers.issue(ca, key.public_key(), "PQ signer")
        else:
            key = generate_key(alg)
            cert = ca.issue(key.public_key(), subject=f"CN={alg}", profile="signing")
        out[alg] = (key, cert, esign.sign(DOC, signer=(key, cert)))
    return out


def _reference(signer_info: cms.SignerInfo, cert: Any, digest: bytes) -> tuple[bool, bool] | str:
    try:
        intact, valid = validate_sig_integrity(signer_info, to_asn1(cert), "data", digest)
    except SignatureValidationError:
        return "refused"
    return intact, valid


def _direct(
    signer_info: cms.SignerInfo, cert: Any, digest: bytes
) -> tuple[bool, bool] | str | None:
    result = integrity.check(signer_info, cert, DATA_OID, digest)
    if result is None:
        return None
    if result.problem is not None:
        return "refused"
    return result.intact, result.valid


def _signer(der: bytes) -> cms.SignerInfo:
    return cms.ContentInfo.load(der)["content"]["signer_infos"][0]


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_genuine_and_changed_content(corpus: dict[str, Any], alg: str) -> None:
    _key, cert, der = corpus[alg]
    for content in (DOC, DOC + b"!"):
        digest = hashlib.new(_digest(der), content).digest()
        direct = _direct(_signer(der), cert, digest)
        assert direct is not None, "the direct check knows esign's own signatures"
        assert direct == _reference(_signer(der), cert, digest)
    assert _direct(_signer(der), cert, hashlib.new(_digest(der), DOC).digest()) == (True, True)


def _digest(der: bytes) -> str:
    return str(_signer(der)["digest_algorithm"]["algorithm"].native)


@pytest.mark.parametrize("alg", ["ec-p256", "rsa-3072"])
def test_another_certificate(corpus: dict[str, Any], alg: str) -> None:
    _key, _cert, der = corpus[alg]
    _other_key, other_cert, _other = corpus["ec-p384" if alg == "ec-p256" else "ed25519"]
    digest = hashlib.new(_digest(der), DOC).digest()
    direct = _direct(_signer(der), other_cert, digest)
    reference = _reference(_signer(der), other_cert, digest)
    assert direct in (None, reference)
    assert direct != (True, True) and reference != (True, True)


@given(st.integers(min_value=0, max_value=1 << 16), st.integers(min_value=0, max_value=7))
def test_a_flipped_bit_in_the_signer_info_agrees(position: int, bit: int) -> None:
    _key, cert, der = _CORPUS["ec-p256"]
    signer = _signer(der)
    raw = bytearray(signer.dump())
    index = position % len(raw)
    raw[index] ^= 1 << bit
    try:
        changed = cms.SignerInfo.load(bytes(raw))
        changed.native  # noqa: B018 - only parsable mutations are compared
    except (ValueError, TypeError, KeyError, OverflowError, AttributeError):
        return
    digest = hashlib.sha256(DOC).digest()
    try:
        direct = _direct(changed, cert, digest)
    except (ValueError, TypeError, KeyError):
        direct = None
    try:
        reference = _reference(changed, cert, digest)
    except (ValueError, TypeError, KeyError, NotImplementedError):
        reference = "error"
    if direct is not None:
        assert direct == reference or (direct != (True, True) and reference != (True, True))
    assert direct != (True, True) or reference == (True, True), "never more lenient"


def _make_corpus() -> dict[str, Any]:
    ca = CertificateAuthority.create_root("CN=Property Root")
    key = generate_key("ec-p256")
    cert = ca.issue(key.public_key(), subject="CN=Prop", profile="signing")
    return {"ec-p256": (key, cert, esign.sign(DOC, signer=(key, cert)))}


_CORPUS = _make_corpus()
