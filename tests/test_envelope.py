"""Sign-then-encrypt envelopes: round trips, wrong keys, and interop with openssl cms."""

from __future__ import annotations

from pathlib import Path

import pytest
from asn1crypto import cms

from esign import open_envelope, seal
from esign.envelope.recipients import identity_for
from esign.errors import (
    DecryptionError,
    MalformedInputError,
    NoMatchingRecipientError,
    UnsupportedAlgorithmError,
)
from esign.hazmat.envelope import decrypt_envelope, encrypt_envelope

from .conftest import Pki, make_pki, openssl_decrypt_verify, run

DOCUMENT = b"Tax return 2026\nIncome: 1 250 000\n"


def test_round_trip_reports_who_signed(pki: Pki) -> None:
    envelope = seal(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert), recipients=[pki.tax_cert])
    info = cms.ContentInfo.load(envelope)
    assert info["content_type"].native == "authenticated_enveloped_data"
    algorithm = info["content"]["auth_encrypted_content_info"]["content_encryption_algorithm"]
    assert algorithm["algorithm"].native == "aes256_gcm"
    assert DOCUMENT not in envelope
    opened = open_envelope(envelope, recipient=(pki.tax_key, pki.tax_cert), trust=pki.trust)
    assert opened.content == DOCUMENT
    assert opened.report.valid and opened.report.signer is not None
    assert opened.report.signer.subject == "CN=Ivan Ivanov"


def test_open_without_recipient_certificate_uses_trial_decryption(pki: Pki) -> None:
    envelope = seal(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert), recipients=[pki.tax_cert])
    opened = open_envelope(envelope, recipient=(pki.tax_key, None), trust=pki.trust)
    assert opened.content == DOCUMENT


def test_wrong_key_fails_uniformly(pki: Pki, other_pki: Pki) -> None:
    envelope = seal(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert), recipients=[pki.tax_cert])
    # Right certificate, wrong key: the record is addressed to us but does not unwrap.
    with pytest.raises(DecryptionError) as wrong_key:
        open_envelope(envelope, recipient=(other_pki.tax_key, pki.tax_cert), trust=pki.trust)
    # Tampered ciphertext: same error class and the same message (no oracle).
    tampered = bytearray(envelope)
    tampered[-40] ^= 1
    with pytest.raises(DecryptionError) as bad_tag:
        open_envelope(bytes(tampered), recipient=(pki.tax_key, pki.tax_cert), trust=pki.trust)
    assert str(wrong_key.value) == str(bad_tag.value)


def test_not_addressed_to_this_certificate(pki: Pki, other_pki: Pki) -> None:
    envelope = seal(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert), recipients=[pki.tax_cert])
    with pytest.raises(NoMatchingRecipientError):
        open_envelope(envelope, recipient=(other_pki.tax_key, other_pki.tax_cert), trust=pki.trust)


def test_several_recipients_each_open(pki: Pki, other_pki: Pki) -> None:
    rsa = make_pki(recipient_alg="rsa-3072")
    p384 = make_pki(recipient_alg="ec-p384")
    recipients = [pki.tax_cert, rsa.tax_cert, p384.tax_cert]
    envelope = seal(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert), recipients=recipients)
    for key, cert in (
        (pki.tax_key, pki.tax_cert),
        (rsa.tax_key, rsa.tax_cert),
        (p384.tax_key, p384.tax_cert),
    ):
        opened = open_envelope(envelope, recipient=(key, cert), trust=pki.trust)
        assert opened.content == DOCUMENT and opened.report.valid


def test_untrusted_signer_is_reported_not_hidden(pki: Pki, other_pki: Pki) -> None:
    envelope = seal(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert), recipients=[pki.tax_cert])
    opened = open_envelope(envelope, recipient=(pki.tax_key, pki.tax_cert), trust=other_pki.trust)
    assert opened.content == DOCUMENT
    assert not opened.report.valid and opened.report.errors[0].code == "no_path"


def test_unsigned_content_is_reported(pki: Pki) -> None:
    envelope = encrypt_envelope(b"just bytes", [pki.tax_cert])
    opened = open_envelope(envelope, recipient=(pki.tax_key, pki.tax_cert), trust=pki.trust)
    assert opened.content == b"just bytes"
    assert not opened.report.valid and opened.report.errors[0].code == "not_signed"


def test_signed_data_is_not_an_envelope(pki: Pki) -> None:
    from esign import sign

    with pytest.raises(MalformedInputError, match="AuthEnvelopedData"):
        decrypt_envelope(
            sign(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert)),
            identity_for(pki.tax_key, pki.tax_cert),
        )


def test_ed25519_certificate_cannot_be_a_recipient() -> None:
    other = make_pki(signer_alg="ed25519")
    with pytest.raises(UnsupportedAlgorithmError):
        encrypt_envelope(b"x", [other.ivanov_cert])


# --- interop with the openssl command line -------------------------------------------------


@pytest.mark.parametrize("recipient_alg", ["ec-p256", "ec-p384", "rsa-3072"])
def test_openssl_decrypts_then_verifies_what_esign_sealed(
    openssl: str, tmp_path: Path, recipient_alg: str
) -> None:
    pki = make_pki(recipient_alg=recipient_alg)
    paths = pki.write(tmp_path)
    envelope = tmp_path / "return.p7m"
    envelope.write_bytes(
        seal(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert), recipients=[pki.tax_cert])
    )
    document = openssl_decrypt_verify(openssl, envelope, paths, tmp_path)
    assert document == DOCUMENT


@pytest.mark.parametrize("recipient_alg", ["ec-p256", "ec-p384", "rsa-3072"])
def test_esign_opens_openssl_sign_pipe_encrypt(
    openssl: str, tmp_path: Path, recipient_alg: str
) -> None:
    pki = make_pki(recipient_alg=recipient_alg)
    paths = pki.write(tmp_path)
    doc = tmp_path / "return.txt"
    doc.write_bytes(DOCUMENT)
    signed = run(
        openssl,
        "cms",
        "-sign",
        "-binary",
        "-nodetach",
        "-outform",
        "DER",
        "-in",
        doc,
        "-signer",
        paths["ivanov_cert"],
        "-inkey",
        paths["ivanov_key"],
    )
    assert signed.returncode == 0, signed.stderr
    keyopt = ["-keyopt", "rsa_padding_mode:oaep"] if recipient_alg.startswith("rsa") else []
    encrypted = run(
        openssl,
        "cms",
        "-encrypt",
        "-binary",
        "-aes-256-gcm",
        "-outform",
        "DER",
        "-recip",
        paths["tax_cert"],
        *keyopt,
        input=signed.stdout,
    )
    assert encrypted.returncode == 0, encrypted.stderr
    opened = open_envelope(encrypted.stdout, recipient=(pki.tax_key, pki.tax_cert), trust=pki.trust)
    assert opened.content == DOCUMENT
    assert opened.report.valid, opened.report.errors
    assert opened.report.signer is not None and opened.report.signer.subject == "CN=Ivan Ivanov"


def test_openssl_rsa_pkcs1v15_key_transport_is_refused(openssl: str, tmp_path: Path) -> None:
    pki = make_pki(recipient_alg="rsa-3072")
    paths = pki.write(tmp_path)
    encrypted = run(
        openssl,
        "cms",
        "-encrypt",
        "-binary",
        "-aes-256-gcm",
        "-outform",
        "DER",
        "-recip",
        paths["tax_cert"],
        input=b"hello",
    )
    assert encrypted.returncode == 0, encrypted.stderr
    with pytest.raises(UnsupportedAlgorithmError, match=r"PKCS#1 v1\.5"):
        open_envelope(encrypted.stdout, recipient=(pki.tax_key, pki.tax_cert), trust=pki.trust)


# --- several identities ---------------------------------------------------------------------


def test_several_identities_the_one_addressed_opens(pki: Pki, other_pki: Pki) -> None:
    from esign.envelope import PasswordIdentity

    envelope = seal(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert), recipients=[pki.tax_cert])
    identities = [
        PasswordIdentity(b"not this"),
        (other_pki.tax_key, other_pki.tax_cert),
        (pki.tax_key, pki.tax_cert),
    ]
    opened = open_envelope(envelope, recipient=identities, trust=pki.trust)  # type: ignore[arg-type]
    assert opened.content == DOCUMENT and opened.report.valid


def test_when_no_identity_opens_each_says_why(pki: Pki, other_pki: Pki) -> None:
    from esign.envelope.recipients import RsaPkcs1v15Recipient

    rsa = make_pki(recipient_alg="rsa-3072")
    envelope = seal(
        DOCUMENT,
        signer=(pki.ivanov_key, pki.ivanov_cert),
        recipients=[RsaPkcs1v15Recipient(rsa.tax_cert)],
    )
    identities = [(rsa.tax_key, rsa.tax_cert), (other_pki.tax_key, other_pki.tax_cert)]
    with pytest.raises(UnsupportedAlgorithmError) as refused:
        open_envelope(envelope, recipient=identities, trust=pki.trust)  # type: ignore[arg-type]
    reasons = str(refused.value).split(" | ")
    assert len(reasons) == 2
    assert "legacy algorithm refused" in reasons[0]
    assert reasons[1].endswith("not addressed to me")
    with pytest.raises(NoMatchingRecipientError, match="not addressed to me"):
        open_envelope(
            envelope, recipient=[(other_pki.tax_key, other_pki.tax_cert)], trust=pki.trust
        )
    legacy = identity_for(rsa.tax_key, rsa.tax_cert, legacy_pkcs1v15=True)
    assert open_envelope(envelope, recipient=legacy, trust=pki.trust).report.valid
