"""GOST R 34.10-2012 in esign without the openssl peer: keys on every parameter set, the
wire-form pitfalls, GOST chains with revocation, CAdES-T, QUALIFIED under ``ru``, the
command line, and the property that any change breaks verification."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st

import esign
from esign.certs import TrustContext
from esign.certs.profiles import IssuerSignTool, QualifiedSettings
from esign.certs.trusted_list import TrustedList
from esign.errors import (
    CertificateProfileError,
    EsignError,
    InvalidSignatureError,
    MalformedInputError,
    UnsupportedAlgorithmError,
    WrongPasswordError,
)
from esign.gost import params, streebog
from esign.gost.authority import GostAuthority
from esign.gost.keys import GostPrivateKey, GostPublicKey, generate, load_pkcs8
from esign.keys import generate_key
from esign.keys.algorithms import KeyUse, algorithm_name, names_for
from esign.keys.handle import LocalKey
from esign.keys.pkcs8 import Pbkdf2Kdf
from esign.keys.storage import dump_key, parse_key
from esign.signing.report import SignatureLevel
from esign.signing.sign import add_validation_data
from esign.signing.timestamps import TimeStampAuthority

from . import _signing_pki as helpers
from ._gost import GostPki, make_gost_pki, write_cert
from .conftest import Pki, run
from .test_properties import Mutation, mutations

DOC = b"tax return 2026, Ivanov I. I."
ALL_NAMES = sorted(params.BY_NAME)
RU_TOOLS = IssuerSignTool(
    "CryptoPro CSP 5.0",
    "CryptoPro UC 2.0",
    "SF/124-3966 of 15.01.2021",
    "SF/128-3868 of 23.07.2020",
)
RU_SUBJECT = "SNILS=11223344595,INN=500100732259,SN=Ivanov,GN=Ivan,CN=Ivan Ivanov,C=RU"


@pytest.fixture(scope="module")
def gpki() -> GostPki:
    return make_gost_pki("gost2012-256-tca")


@pytest.fixture(scope="module")
def signature(gpki: GostPki) -> bytes:
    return esign.sign(DOC, signer=(gpki.key, gpki.cert))  # type: ignore[arg-type]


# -- keys ------------------------------------------------------------------------------------


def test_streebog_vectors() -> None:
    """RFC 6986 §10.1 M1 (the printed big-endian digests) through the chosen backend."""
    m1 = b"012345678901234567890123456789012345678901234567890123456789012"
    assert streebog.digest(256, m1).hex() == (
        "9d151eefd8590b89daa6ba6cb74af9275dd051026bb149a452fd84e5e57b5500"
    )
    assert streebog.digest(512, m1).hex().startswith("1b54d01a4af5b9d5cc3d86d68d285462")


@pytest.mark.parametrize("name", ALL_NAMES)
def test_every_parameter_set_signs_and_round_trips(name: str) -> None:
    key = generate(name)
    assert algorithm_name(key) == name and algorithm_name(key.public_key()) == name
    digest = streebog.digest(key.paramset.bits, DOC)
    value = key.sign_digest(digest)
    key.public_key().verify_digest(value, digest)
    with pytest.raises(InvalidSignatureError):
        key.public_key().verify_digest(value, streebog.digest(key.paramset.bits, DOC + b"!"))
    # Stored encrypted (PBES2) and read back; the public key survives SPKI.
    stored = dump_key(key, "correct horse", kdf=Pbkdf2Kdf(iterations=1000))
    again = parse_key(stored, "correct horse")
    assert isinstance(again, GostPrivateKey) and again.same_key(key)
    with pytest.raises(WrongPasswordError):
        parse_key(stored, "wrong horse")
    assert GostPublicKey.from_spki(key.public_key().spki_der()) == key.public_key()


def test_key_names_and_defaults() -> None:
    signing = set(names_for(KeyUse.SIGN))
    assert {f"gost2012-256-{s}" for s in ("a", "b", "c", "xa", "xb", "tca", "tcd")} <= signing
    assert {"gost2012-512-a", "gost2012-512-b", "gost2012-512-c"} <= signing
    assert generate_key("gost2012-256-a").paramset.oid == "1.2.643.2.2.35.1"  # type: ignore[union-attr]
    assert generate_key("gost2012-512-a").paramset.oid == "1.2.643.7.1.2.1.2.1"  # type: ignore[union-attr]
    # Engine "A" is CryptoPro-A; TC26-A is "TCA" (a twisted Edwards curve).
    assert params.paramset("gost2012-256-a").title == "CryptoPro-A"
    assert params.paramset("gost2012-256-tca").oid == "1.2.643.7.1.2.1.1.1"
    for unknown in ("gost2012-256-z", "gost2012-256", "gost2012-512-d"):
        with pytest.raises(UnsupportedAlgorithmError):
            generate_key(unknown)


@pytest.mark.parametrize("name", ["gost2012-256-xb", "gost2012-512-b"])
def test_gost_key_handle_signs_streebog_only(name: str) -> None:
    key = generate(name)
    handle = LocalKey(key)
    bits = key.paramset.bits
    value = handle.sign(DOC, digest=f"streebog{bits}")
    key.public_key().verify_digest(value, streebog.digest(bits, DOC))
    with pytest.raises(UnsupportedAlgorithmError, match=f"streebog{bits} only"):
        handle.sign(DOC, digest="sha256")


def test_wire_form_pitfalls() -> None:
    """s||r order, little-endian digest, little-endian X||Y: each mistake is caught."""
    key = generate("gost2012-256-a")
    size = 32
    digest = streebog.digest(256, DOC)
    value = key.sign_digest(digest)
    public = key.public_key()
    with pytest.raises(InvalidSignatureError):
        public.verify_digest(value[size:] + value[:size], digest)  # r||s
    with pytest.raises(InvalidSignatureError):
        public.verify_digest(value, digest[::-1])  # digest read big-endian
    point = public.point_octets()
    assert int.from_bytes(point[:size], "little") == public.x
    # The same scalar on CryptoPro-A and CryptoPro-XchA (same curve) gives the same point.
    twin = GostPrivateKey(params.paramset("gost2012-256-xa"), key._d)
    assert (twin.public_key().x, twin.public_key().y) == (public.x, public.y)
    assert twin.public_key() != public or twin.paramset.curve == key.paramset.curve


def test_malformed_gost_keys_are_named_errors() -> None:
    key = generate("gost2012-256-tca")
    der = key.pkcs8_der()
    with pytest.raises(MalformedInputError):
        load_pkcs8(der[:-3])
    unknown_set = der.replace(bytes.fromhex("2a850307010201010 1".replace(" ", "")), b"\x2a" * 8)
    with pytest.raises((UnsupportedAlgorithmError, MalformedInputError)):
        load_pkcs8(unknown_set)
    with pytest.raises(MalformedInputError):
        GostPrivateKey(key.paramset, 0)
    with pytest.raises(MalformedInputError):
        GostPublicKey.from_spki(b"\x30\x03\x02\x01\x00")


# -- CA, chains, revocation ---------------------------------------------------------------------


def test_gost_chain_with_crl_revocation(signature: bytes, gpki: GostPki) -> None:
    sub = gpki.ca.create_intermediate("CN=GOST Issuing CA", algorithm="gost2012-512-a")
    key = generate("gost2012-256-xa")
    cert = sub.issue(key.public_key(), subject="CN=Petrov")
    sig = esign.sign(DOC, signer=(key, cert), chain=[sub.certificate])  # type: ignore[arg-type]
    clean = sub.crl().public_bytes(serialization.Encoding.DER)
    root_crl = gpki.ca.crl().public_bytes(serialization.Encoding.DER)
    trust = TrustContext([gpki.ca.certificate], crls=[clean, root_crl])
    report = esign.verify(sig, DOC, trust=trust)
    assert report.valid, report.errors
    assert [c.subject.rfc4514_string() for c in report.chain] == [
        "CN=Petrov",
        "CN=GOST Issuing CA",
        "CN=GOST Test Root,O=Tax Service",
    ]
    assert report.revocation == "not revoked"
    sub.revoke(cert, x509.ReasonFlags.key_compromise)
    revoked_crl = sub.crl().public_bytes(serialization.Encoding.DER)
    revoked = esign.verify(
        sig, DOC, trust=TrustContext([gpki.ca.certificate], crls=[revoked_crl, root_crl])
    )
    assert not revoked.valid and [e.code for e in revoked.errors] == ["revoked"]
    # The same through TrustContext.validate (esign cert verify).
    path = TrustContext([gpki.ca.certificate], crls=[revoked_crl, root_crl]).validate(
        cert, extra_certificates=[sub.certificate]
    )
    assert not path.trusted and path.failures[0].code == "revoked"
    # A CRL whose GOST signature is broken is no evidence: the signature is then not valid.
    broken = bytearray(clean)
    broken[-4] ^= 1
    strict = TrustContext([gpki.ca.certificate], crls=[bytes(broken), root_crl])
    unknown = esign.verify(sig, DOC, trust=strict)
    assert not unknown.valid and unknown.errors[0].code == "no_revocation_info"
    strict_clean = TrustContext([gpki.ca.certificate], crls=[clean])
    assert not esign.verify(sig, DOC, trust=strict_clean).valid  # the root's CRL is missing
    both = TrustContext([gpki.ca.certificate], crls=[clean, root_crl])
    assert esign.verify(sig, DOC, trust=both).valid


def test_gost_b_lt_verifies_offline(gpki: GostPki) -> None:
    """CAdES B-LT: the chain and a GOST CRL embedded; the verifier holds only the root."""
    sub = gpki.ca.create_intermediate("CN=GOST LT CA", algorithm="gost2012-256-b")
    key = generate("gost2012-256-c")
    cert = sub.issue(key.public_key(), subject="CN=Kuznetsov")
    sig = esign.sign(DOC, signer=(key, cert))  # type: ignore[arg-type]
    trust = TrustContext([gpki.ca.certificate])
    assert not esign.verify(sig, DOC, trust=trust).valid  # no intermediate, no CRL
    root_crl = gpki.ca.crl()
    lt = add_validation_data(sig, certificates=[sub.certificate], crls=[sub.crl(), root_crl])
    report = esign.verify(lt, DOC, trust=trust)
    assert report.valid, report.errors
    sub.revoke(cert)
    revoked = add_validation_data(sig, certificates=[sub.certificate], crls=[sub.crl(), root_crl])
    assert [e.code for e in esign.verify(revoked, DOC, trust=trust).errors] == ["revoked"]


def test_untrusted_and_expired(signature: bytes, gpki: GostPki) -> None:
    stranger = GostAuthority.create_root("CN=Other GOST Root")
    report = esign.verify(signature, DOC, trust=TrustContext([stranger.certificate]))
    assert not report.valid and report.errors[0].code == "no_path"
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=4000)
    expired = esign.verify(
        signature, DOC, trust=TrustContext([gpki.ca.certificate], crls=[gpki.ca.crl()]), at=later
    )
    assert not expired.valid and expired.errors[0].code == "expired"


def test_gost_ca_refuses_what_it_cannot_do(gpki: GostPki) -> None:
    with pytest.raises(CertificateProfileError):
        gpki.ca.issue(gpki.key.public_key(), subject="CN=Tax", profile="encryption")
    with pytest.raises(CertificateProfileError, match="GostAuthority"):
        esign.certs.CertificateAuthority.create_root("CN=X", key=generate("gost2012-256-a"))  # type: ignore[arg-type]
    ec_ca = esign.certs.CertificateAuthority.create_root("CN=EC Root")
    with pytest.raises(CertificateProfileError, match="GostAuthority"):
        ec_ca.issue(gpki.key.public_key(), subject="CN=Mixed")  # type: ignore[arg-type]


# -- levels -----------------------------------------------------------------------------------


def test_qualified_ru_on_gost_keys() -> None:
    ca = GostAuthority.create_root(
        "CN=Accredited GOST CA,O=UC,C=RU",
        algorithm="gost2012-256-tca",
        qualified=QualifiedSettings(issuer_sign_tool=RU_TOOLS, subject_sign_tool="CryptoPro CSP"),
    )
    key = generate("gost2012-256-a")
    cert = ca.issue(key.public_key(), subject=RU_SUBJECT, profile="qualified-ru")
    sig = esign.sign(DOC, signer=(key, cert))  # type: ignore[arg-type]
    trust = TrustContext([ca.certificate], crls=[ca.crl()])
    listed = TrustedList("ru", [ca.certificate], name="Minsvyaz accredited CAs")
    report = esign.verify(sig, DOC, trust=trust, trusted_lists=[listed], jurisdiction="ru")
    assert report.valid, report.errors
    assert report.level is SignatureLevel.QUALIFIED
    assert report.signature_algorithm == (
        "GOST R 34.10-2012 256-bit, parameter set CryptoPro-A (1.2.643.2.2.35.1)"
    )
    assert any("CryptoPro-A" in e for e in report.evidence)
    assert {"SNILS", "INN", "subjectSignTool extension"} <= set(report.evidence)
    unlisted = esign.verify(sig, DOC, trust=trust, jurisdiction="ru")
    assert unlisted.level is SignatureLevel.ADVANCED
    assert "no ru trusted list supplied by the verifier" in unlisted.missing_evidence
    plain = make_gost_pki("gost2012-256-a")
    not_qc = esign.verify(
        esign.sign(DOC, signer=(plain.key, plain.cert)),  # type: ignore[arg-type]
        DOC,
        trust=TrustContext([plain.ca.certificate], crls=[plain.ca.crl()]),
        trusted_lists=[TrustedList("ru", [plain.ca.certificate])],
        jurisdiction="ru",
    )
    assert not_qc.level is SignatureLevel.ADVANCED and "no INN or INNLE in the subject" in (
        not_qc.missing_evidence
    )


# -- CAdES-T with esign's (non-GOST) time-stamp authority -------------------------------------


def test_cades_t_with_an_rfc3161_tsa(gpki: GostPki, pki: Pki) -> None:
    key, cert = helpers.tsa(pki.ca)
    tsa = TimeStampAuthority(key, cert)
    sig = esign.sign(DOC, signer=(gpki.key, gpki.cert), timestamper=tsa.timestamper)  # type: ignore[arg-type]
    trust = TrustContext([gpki.ca.certificate], crls=[gpki.ca.crl()])
    report = esign.verify(sig, DOC, trust=trust, tsa_trust=pki.trust)
    assert report.valid, report.errors
    assert report.timestamp is not None and report.validation_time == report.timestamp
    untrusted = esign.verify(sig, DOC, trust=trust)
    assert "timestamp_untrusted" in {e.code for e in untrusted.errors}


# -- properties -------------------------------------------------------------------------------


def _errors(signature: bytes, data: bytes, trust: TrustContext) -> list[str] | None:
    """The error codes, or None when the input is refused as not a signature at all."""
    try:
        report = esign.verify(signature, data, trust=trust)
    except EsignError:
        return None
    assert report.valid == (not report.errors)
    return [e.code for e in report.errors]


@settings(max_examples=25)
@given(data=st.data())
def test_any_change_to_a_gost_signature_fails(
    signature: bytes, gpki: GostPki, data: st.DataObject
) -> None:
    trust = TrustContext([gpki.ca.certificate], crls=[gpki.ca.crl()])
    index = data.draw(st.integers(0, len(signature) - 1))
    mask = data.draw(st.integers(1, 255))
    mutated = bytearray(signature)
    mutated[index] ^= mask
    codes = _errors(bytes(mutated), DOC, trust)
    assert codes is None or codes, f"byte {index} ^ {mask} still verifies"


@settings(max_examples=25)
@given(change=st.sampled_from(["flip", "insert", "delete", "truncate"]), data=st.data())
def test_any_change_to_the_document_fails(
    signature: bytes, gpki: GostPki, change: str, data: st.DataObject
) -> None:
    trust = TrustContext([gpki.ca.certificate], crls=[gpki.ca.crl()])
    index = data.draw(st.integers(0, len(DOC) - 1))
    doc = bytearray(DOC)
    if change == "flip":
        doc[index] ^= data.draw(st.integers(1, 255))
    elif change == "insert":
        doc.insert(index, data.draw(st.integers(0, 255)))
    elif change == "delete":
        del doc[index]
    else:
        doc = doc[:index]
    assert _errors(signature, bytes(doc), trust) == ["content_modified"]


@settings(max_examples=30)
@given(mutation=mutations)
def test_any_mutation_of_a_gost_signature_is_invalid_or_refused(
    signature: bytes, gpki: GostPki, mutation: Mutation
) -> None:
    """Flipped, inserted or deleted bytes, truncation: never valid, never a traceback."""
    changed = mutation.apply(signature)
    if changed == signature:
        return
    codes = _errors(changed, DOC, TrustContext([gpki.ca.certificate], crls=[gpki.ca.crl()]))
    assert codes is None or codes, f"{mutation} still verifies"


def test_every_byte_of_a_gost_signature_matters(signature: bytes, gpki: GostPki) -> None:
    """Inverting each byte of the signer's part in turn: never valid, never a traceback."""
    trust = TrustContext([gpki.ca.certificate], crls=[gpki.ca.crl()])
    signer_info = cms.ContentInfo.load(signature)["content"]["signer_infos"][0].dump()
    start = signature.index(signer_info)
    for index in range(start, len(signature), 7):
        mutated = bytearray(signature)
        mutated[index] ^= 0xFF
        codes = _errors(bytes(mutated), DOC, trust)
        assert codes is None or codes, f"byte {index} inverted still verifies"


# -- command line -----------------------------------------------------------------------------


def test_cli_gost_end_to_end(gpki: GostPki, signature: bytes, tmp_path: Path) -> None:
    ca = write_cert(gpki.ca.certificate, tmp_path / "ca.pem")
    leaf = write_cert(gpki.cert, tmp_path / "leaf.pem")
    crl = tmp_path / "ca.crl"
    crl.write_bytes(gpki.ca.crl().public_bytes(serialization.Encoding.DER))
    doc = tmp_path / "doc.txt"
    doc.write_bytes(DOC)
    sig = tmp_path / "doc.p7s"
    sig.write_bytes(signature)
    ok = run("esign", "verify", sig, "--data", doc, "--trust", ca, "--crl", crl, "--json")
    assert ok.returncode == 0, ok.stderr
    body = json.loads(ok.stdout)
    assert body["valid"] and body["digest_algorithm"] == "streebog256"
    assert "TC26-256-A" in body["signature_algorithm"]
    doc.write_bytes(DOC + b".")
    bad = run("esign", "verify", sig, "--data", doc, "--trust", ca, "--crl", crl)
    assert bad.returncode == 1 and b"Traceback" not in bad.stderr
    shown = run("esign", "cert", "show", leaf)
    assert shown.returncode == 0 and b"gost2012-256-tca" in shown.stdout
    checked = run("esign", "cert", "verify", leaf, "--trust", ca, "--crl", crl)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_cli_gost_chain_never_a_traceback(gpki: GostPki, signature: bytes, tmp_path: Path) -> None:
    """Missing intermediate, wrong anchor, truncated and garbage inputs: exit 1 or 2."""
    sub = gpki.ca.create_intermediate("CN=Sub", algorithm="gost2012-512-c")
    key = generate("gost2012-256-b")
    cert = sub.issue(key.public_key(), subject="CN=Sidorov")
    chained = esign.sign(DOC, signer=(key, cert))  # type: ignore[arg-type] (no intermediate)
    doc = tmp_path / "doc"
    doc.write_bytes(DOC)
    ca = write_cert(gpki.ca.certificate, tmp_path / "ca.pem")
    stranger = write_cert(GostAuthority.create_root("CN=Stranger").certificate, tmp_path / "x.pem")
    cases = {
        "missing-intermediate.p7s": (chained, 1),
        "wrong-anchor.p7s": (signature, 1),
        "truncated.p7s": (signature[: len(signature) // 2], 2),
        "garbage.p7s": (b"\x30\x82" + bytes(range(200)), 2),
    }
    for name, (content, expected) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        trust = stranger if name == "wrong-anchor.p7s" else ca
        result = run("esign", "verify", path, "--data", doc, "--trust", trust)
        assert result.returncode == expected, (name, result.stderr)
        assert b"Traceback" not in result.stderr
    key_file = tmp_path / "k.pem"
    made = run(
        "esign", "key", "generate", "--alg", "gost2012-256-tca", "--out", key_file, "--unencrypted"
    )
    assert made.returncode == 0, made.stderr
    assert isinstance(parse_key(key_file.read_bytes()), GostPrivateKey)
