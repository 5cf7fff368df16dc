"""Every recipient kind, several per envelope, recipient binding, and interop with peers."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import mlkem
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from esign import open_envelope, seal
from esign.asn1 import KEMRecipientInfo
from esign.envelope.recipients import (
    PasswordIdentity,
    PasswordRecipient,
    RsaPkcs1v15Recipient,
    identity_for,
)
from esign.errors import (
    DecryptionError,
    EsignError,
    RecipientsModifiedError,
    UnsupportedAlgorithmError,
)
from esign.hazmat.envelope import decrypt_envelope, encrypt_envelope

from .conftest import Pki, make_pki, openssl_decrypt_verify, run

DOCUMENT = b"Tax return 2026\nIncome: 1 250 000\n"
FAST = 1000  # PBKDF2 iterations in tests (the default is 600 000)


def kem_certificate(
    pki: Pki, key: mlkem.MLKEM768PrivateKey | mlkem.MLKEM1024PrivateKey
) -> x509.Certificate:
    """An ML-KEM end-entity certificate from the test CA (keyEncipherment, RFC 9935 style)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=Tax Service KEM"))
        .issuer_name(pki.ca.certificate.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.KeyUsage(False, False, True, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(pki.ca.key, hashes.SHA256())  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def everyone(pki: Pki) -> list[tuple[object, x509.Certificate | None]]:
    """One identity per recipient kind, all issued by ``pki``'s CA."""
    people: list[tuple[object, x509.Certificate | None]] = [(pki.tax_key, pki.tax_cert)]
    for alg in ("rsa-3072", "ec-p384", "x25519"):
        other = make_pki(recipient_alg=alg)
        key = other.tax_key
        cert = pki.ca.issue(key.public_key(), subject=f"CN=Tax {alg}", profile="encryption")
        people.append((key, cert))
    for kem_key in (mlkem.MLKEM768PrivateKey.generate(), mlkem.MLKEM1024PrivateKey.generate()):
        people.append((kem_key, kem_certificate(pki, kem_key)))
    return people


def test_every_recipient_kind_in_one_envelope_opens_for_each(pki: Pki, everyone: list) -> None:
    recipients = [cert for _, cert in everyone] + [PasswordRecipient(b"correct horse", FAST)]
    envelope = seal(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert), recipients=recipients)
    kinds = [ri.name for ri in cms.ContentInfo.load(envelope)["content"]["recipient_infos"]]
    assert sorted(kinds) == ["kari", "kari", "kari", "ktri", "ori", "ori", "pwri"]
    identities = [identity_for(key, cert) for key, cert in everyone]  # type: ignore[arg-type]
    identities.append(identity_for(everyone[3][0], None))  # X25519 by trial decryption
    for identity in [*identities, PasswordIdentity(b"correct horse")]:
        opened = open_envelope(envelope, recipient=identity, trust=pki.trust)
        assert opened.content == DOCUMENT
        assert opened.report.valid, opened.report.errors
        assert len(opened.intended_recipients) == len(recipients)


@pytest.mark.parametrize("kem", [mlkem.MLKEM768PrivateKey, mlkem.MLKEM1024PrivateKey])
def test_ml_kem_envelope_has_the_rfc_9936_structure(pki: Pki, kem: type) -> None:
    key = kem.generate()
    envelope = seal(
        DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert), recipients=[kem_certificate(pki, key)]
    )
    ori = cms.ContentInfo.load(envelope)["content"]["recipient_infos"][0].chosen
    assert ori["ori_type"].dotted == "1.2.840.113549.1.9.16.13.3"
    kemri = KEMRecipientInfo.load(ori["ori_value"].dump())
    assert kemri["version"].native == 0 and kemri["rid"].name == "subject_key_identifier"
    assert kemri["kdf"]["algorithm"].dotted == "1.2.840.113549.1.9.16.3.28"
    assert kemri["kdf"]["parameters"].native is None
    assert kemri["wrap"]["algorithm"].native == "aes256_wrap"
    assert kemri["kek_length"].native == 32
    expected_ct = 1088 if kem is mlkem.MLKEM768PrivateKey else 1568
    assert len(kemri["kemct"].native) == expected_ct
    opened = open_envelope(envelope, recipient=(key, None), trust=pki.trust)
    assert opened.content == DOCUMENT and opened.report.valid


def test_wrong_password_fails_uniformly(pki: Pki) -> None:
    envelope = seal(
        DOCUMENT,
        signer=(pki.ivanov_key, pki.ivanov_cert),
        recipients=[PasswordRecipient(b"right", FAST)],
    )
    with pytest.raises(DecryptionError) as wrong:
        open_envelope(envelope, recipient=PasswordIdentity(b"wrong"), trust=pki.trust)
    assert str(wrong.value) == str(DecryptionError())


def test_cbc_enveloped_data_for_older_peers(pki: Pki) -> None:
    envelope = seal(
        DOCUMENT,
        signer=(pki.ivanov_key, pki.ivanov_cert),
        recipients=[pki.tax_cert],
        cipher="aes-256-cbc",
    )
    info = cms.ContentInfo.load(envelope)
    assert info["content_type"].native == "enveloped_data"
    assert info["content"]["version"].native == "v2"  # a kari record (RFC 5652 §6.1)
    opened = open_envelope(envelope, recipient=(pki.tax_key, pki.tax_cert), trust=pki.trust)
    assert opened.content == DOCUMENT and opened.report.valid


def test_unknown_cipher_is_a_named_error(pki: Pki) -> None:
    with pytest.raises(UnsupportedAlgorithmError):
        encrypt_envelope(b"x", [pki.tax_cert], cipher="des-ede3")  # type: ignore[arg-type]


# --- recipient binding ----------------------------------------------------------------------


def test_forwarded_envelope_is_reported(pki: Pki, other_pki: Pki) -> None:
    """Bob opens Alice's envelope, re-encrypts the signed document to Carol: Carol is told."""
    envelope = seal(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert), recipients=[pki.tax_cert])
    opened = open_envelope(envelope, recipient=(pki.tax_key, pki.tax_cert), trust=pki.trust)
    assert opened.report.valid
    forwarded = encrypt_envelope(opened.signature, [other_pki.tax_cert])
    carol = open_envelope(
        forwarded, recipient=(other_pki.tax_key, other_pki.tax_cert), trust=pki.trust
    )
    assert carol.content == DOCUMENT
    assert not carol.report.valid
    assert [e.code for e in carol.report.errors] == ["not_an_intended_recipient"]
    assert carol.report.signer is not None  # Carol still learns who signed


def test_forwarded_to_a_password_is_reported(pki: Pki) -> None:
    envelope = seal(
        DOCUMENT,
        signer=(pki.ivanov_key, pki.ivanov_cert),
        recipients=[PasswordRecipient(b"first", FAST)],
    )
    signed = open_envelope(envelope, recipient=PasswordIdentity(b"first"), trust=pki.trust)
    forwarded = encrypt_envelope(signed.signature, [PasswordRecipient(b"second", FAST)])
    report = open_envelope(forwarded, recipient=PasswordIdentity(b"second"), trust=pki.trust)
    assert [e.code for e in report.report.errors] == ["not_an_intended_recipient"]


def test_change_inside_another_recipients_record_is_detected(pki: Pki, other_pki: Pki) -> None:
    envelope = seal(
        DOCUMENT,
        signer=(pki.ivanov_key, pki.ivanov_cert),
        recipients=[pki.tax_cert, other_pki.tax_cert],
    )
    info = cms.ContentInfo.load(envelope)
    theirs = identity_for(other_pki.tax_key, other_pki.tax_cert)
    records = info["content"]["recipient_infos"]
    other_record = next(r for r in records if theirs.unwrap(r) is not None).dump()
    start = envelope.index(other_record)
    changed = bytearray(envelope)
    changed[start + len(other_record) - 3] ^= 0x01  # inside the other's encrypted key
    with pytest.raises(RecipientsModifiedError) as caught:
        open_envelope(bytes(changed), recipient=(pki.tax_key, pki.tax_cert), trust=pki.trust)
    assert str(caught.value) == str(DecryptionError())  # uniform to the caller


def test_openssl_sealed_envelope_has_no_binding_and_says_so(
    openssl: str, tmp_path: Path, pki: Pki
) -> None:
    paths = pki.write(tmp_path)
    (tmp_path / "doc").write_bytes(DOCUMENT)
    signed = run(
        openssl,
        "cms",
        "-sign",
        "-binary",
        "-nodetach",
        "-outform",
        "DER",
        "-in",
        tmp_path / "doc",
        "-signer",
        paths["ivanov_cert"],
        "-inkey",
        paths["ivanov_key"],
    )
    enc = run(
        openssl,
        "cms",
        "-encrypt",
        "-binary",
        "-aes-256-gcm",
        "-outform",
        "DER",
        "-recip",
        paths["tax_cert"],
        input=signed.stdout,
    )
    opened = open_envelope(enc.stdout, recipient=(pki.tax_key, pki.tax_cert), trust=pki.trust)
    assert opened.report.valid
    assert "no_recipient_binding" in [w.code for w in opened.report.warnings]


# --- interop: openssl cms and cryptography's PKCS7 --------------------------------------------


@pytest.mark.parametrize("recipient_alg", ["rsa-3072", "ec-p256", "ec-p384"])
def test_openssl_opens_esign_cbc_envelopes(
    openssl: str, tmp_path: Path, recipient_alg: str
) -> None:
    pki = make_pki(recipient_alg=recipient_alg)
    paths = pki.write(tmp_path)
    envelope = tmp_path / "e.p7m"
    envelope.write_bytes(
        seal(
            DOCUMENT,
            signer=(pki.ivanov_key, pki.ivanov_cert),
            recipients=[pki.tax_cert],
            cipher="aes-256-cbc",
        )
    )
    document = openssl_decrypt_verify(openssl, envelope, paths, tmp_path)
    assert document == DOCUMENT


@pytest.mark.parametrize("recipient_alg", ["rsa-3072", "ec-p256", "ec-p384"])
def test_esign_opens_openssl_cbc_envelopes(
    openssl: str, tmp_path: Path, recipient_alg: str
) -> None:
    pki = make_pki(recipient_alg=recipient_alg)
    paths = pki.write(tmp_path)
    keyopt = ["-keyopt", "rsa_padding_mode:oaep"] if recipient_alg.startswith("rsa") else []
    enc = run(
        openssl,
        "cms",
        "-encrypt",
        "-binary",
        "-aes-256-cbc",
        "-outform",
        "DER",
        "-recip",
        paths["tax_cert"],
        *keyopt,
        input=DOCUMENT,
    )
    assert enc.returncode == 0, enc.stderr
    assert decrypt_envelope(enc.stdout, identity_for(pki.tax_key, pki.tax_cert)) == (
        "data",
        DOCUMENT,
    )


def test_openssl_opens_esign_password_envelope(openssl: str, tmp_path: Path, pki: Pki) -> None:
    paths = pki.write(tmp_path)
    envelope = tmp_path / "p.p7m"
    envelope.write_bytes(
        seal(
            DOCUMENT,
            signer=(pki.ivanov_key, pki.ivanov_cert),
            recipients=[PasswordRecipient(b"s3cret pass", FAST)],
            cipher="aes-256-cbc",
        )
    )
    dec = run(
        openssl,
        "cms",
        "-decrypt",
        "-inform",
        "DER",
        "-in",
        envelope,
        "-pwri_password",
        "s3cret pass",
        "-out",
        tmp_path / "s.p7s",
    )
    assert dec.returncode == 0, dec.stderr
    ver = run(
        openssl,
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        tmp_path / "s.p7s",
        "-CAfile",
        paths["ca"],
    )
    assert ver.returncode == 0 and ver.stdout == DOCUMENT, ver.stderr


def test_esign_opens_openssl_password_envelope(openssl: str, tmp_path: Path, pki: Pki) -> None:
    paths = pki.write(tmp_path)
    (tmp_path / "doc").write_bytes(DOCUMENT)
    signed = run(
        openssl,
        "cms",
        "-sign",
        "-binary",
        "-nodetach",
        "-outform",
        "DER",
        "-in",
        tmp_path / "doc",
        "-signer",
        paths["ivanov_cert"],
        "-inkey",
        paths["ivanov_key"],
    )
    enc = run(
        openssl,
        "cms",
        "-encrypt",
        "-binary",
        "-aes-256-cbc",
        "-outform",
        "DER",
        "-pwri_password",
        "s3cret pass",
        input=signed.stdout,
    )
    assert enc.returncode == 0, enc.stderr
    opened = open_envelope(enc.stdout, recipient=PasswordIdentity(b"s3cret pass"), trust=pki.trust)
    assert opened.content == DOCUMENT and opened.report.valid
    with pytest.raises(DecryptionError):
        open_envelope(enc.stdout, recipient=PasswordIdentity(b"other"), trust=pki.trust)


def test_cryptography_pkcs7_reads_esign_rsa_enveloped_data() -> None:
    pki = make_pki(recipient_alg="rsa-3072")
    envelope = encrypt_envelope(
        DOCUMENT, [RsaPkcs1v15Recipient(pki.tax_cert)], cipher="aes-256-cbc"
    )
    assert pkcs7.pkcs7_decrypt_der(envelope, pki.tax_cert, pki.tax_key, []) == DOCUMENT


def test_esign_reads_cryptography_pkcs7_enveloped_data_only_when_asked() -> None:
    pki = make_pki(recipient_alg="rsa-3072")
    envelope = (
        pkcs7.PKCS7EnvelopeBuilder()
        .set_data(DOCUMENT)
        .add_recipient(pki.tax_cert)
        .set_content_encryption_algorithm(algorithms.AES256)
        .encrypt(Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )
    with pytest.raises(UnsupportedAlgorithmError):
        decrypt_envelope(envelope, identity_for(pki.tax_key, pki.tax_cert))
    legacy = identity_for(pki.tax_key, pki.tax_cert, legacy_pkcs1v15=True)
    assert decrypt_envelope(envelope, legacy) == ("data", DOCUMENT)


def test_every_failure_is_an_esign_error(pki: Pki) -> None:
    for bad in (b"", b"\x30\x80", b"\x30\x03\x06\x01\x00", DOCUMENT):
        with pytest.raises(EsignError):
            open_envelope(bad, recipient=PasswordIdentity(b"x"), trust=pki.trust)


def test_unknown_content_algorithm_is_a_named_error(pki: Pki) -> None:
    envelope = seal(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert), recipients=[pki.tax_cert])
    gcm_oid = bytes.fromhex("060960864801650304012e")  # aes256-GCM
    assert envelope.count(gcm_oid) == 1
    ccm = envelope.replace(gcm_oid, gcm_oid[:-1] + b"\x2f")  # aes256-CCM: not supported
    with pytest.raises(UnsupportedAlgorithmError):
        open_envelope(ccm, recipient=(pki.tax_key, pki.tax_cert), trust=pki.trust)


def test_missing_recipient_is_a_named_error(pki: Pki, other_pki: Pki) -> None:
    from esign.errors import NoMatchingRecipientError

    envelope = seal(
        DOCUMENT,
        signer=(pki.ivanov_key, pki.ivanov_cert),
        recipients=[PasswordRecipient(b"pw", FAST)],
    )
    with pytest.raises(NoMatchingRecipientError):
        open_envelope(envelope, recipient=(pki.tax_key, pki.tax_cert), trust=pki.trust)


class _Handle:
    """A key that only offers operations, as a PKCS#11 or vault handle does (no key bytes)."""

    def __init__(self, key: object) -> None:
        self._key = key
        self.calls: list[str] = []

    def public_key(self) -> object:
        return self._key.public_key()  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        if name not in ("decrypt", "exchange", "decapsulate"):
            raise AttributeError(name)  # no private_bytes, no export
        self.calls.append(name)
        return getattr(self._key, name)


def test_key_handles_open_envelopes_through_their_operations(pki: Pki, everyone: list) -> None:
    envelope = seal(
        DOCUMENT,
        signer=(pki.ivanov_key, pki.ivanov_cert),
        recipients=[cert for _, cert in everyone],
    )
    used = set()
    for key, cert in everyone:
        handle = _Handle(key)
        opened = open_envelope(envelope, recipient=identity_for(handle, cert), trust=pki.trust)
        assert opened.content == DOCUMENT and opened.report.valid
        used.update(handle.calls)
    assert used == {"decrypt", "exchange", "decapsulate"}
