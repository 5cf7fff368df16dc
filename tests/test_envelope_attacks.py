"""Attacks on envelopes (issue 10): a forwarder's extra signer, a CBC padding oracle, and
the cheap checks ``seal`` makes before it reads the document.

Each test here failed on the code before the fix (the forwarder was reported valid, good
padding gave a "not signed" report while bad padding gave a DecryptionError, a signing
certificate was accepted as a recipient, the document was read before the key check).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives.serialization import Encoding

from esign import open_envelope, open_stream, seal, seal_stream, sign
from esign.envelope.binding import binding_attribute
from esign.errors import DecryptionError, EsignError
from esign.hazmat.envelope import encrypt_envelope, prepare_recipients
from esign.keys import generate_key

from .conftest import Pki, make_pki
from .test_cli import esign

DOCUMENT = b"Tax return 2026\nIncome: 1 250 000\n"


def _forwarded_with_a_front_signer(pki: Pki, carol: Pki) -> bytes | None:
    """Bob opens Ivanov's envelope (addressed to the tax service), re-encrypts it to Carol,
    and puts his own signature first, binding Carol's record; Ivanov's stays second.

    DER sorts the SignerInfos SET by encoding, so Bob comes first only for some of his
    certificates: None when this one sorts second (the caller tries another).
    """
    bob_key = generate_key("ec-p256")
    bob_cert = pki.ca.issue(bob_key.public_key(), subject="CN=Bob Forwarder", profile="signing")
    original = seal(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert), recipients=[pki.tax_cert])
    inner = open_envelope(original, recipient=(pki.tax_key, pki.tax_cert), trust=pki.trust)
    assert inner.report.valid
    prepared = prepare_recipients([carol.tax_cert])
    bobs = sign(
        DOCUMENT,
        signer=(bob_key, bob_cert),
        detached=False,
        signed_attributes=[binding_attribute(prepared.infos)],
    )
    ivanovs = cms.ContentInfo.load(inner.signature)["content"]
    bob_signed = cms.ContentInfo.load(bobs)["content"]
    merged = cms.SignedData(
        {
            "version": ivanovs["version"],
            "digest_algorithms": ivanovs["digest_algorithms"],
            "encap_content_info": ivanovs["encap_content_info"],
            "certificates": [*bob_signed["certificates"], *ivanovs["certificates"]],
            "signer_infos": [bob_signed["signer_infos"][0], ivanovs["signer_infos"][0]],
        }
    )
    signed = cms.ContentInfo({"content_type": "signed_data", "content": merged}).dump()
    first = cms.ContentInfo.load(signed)["content"]["signer_infos"][0]
    if first["sid"].chosen["serial_number"].native != bob_cert.serial_number:
        return None
    return encrypt_envelope(signed, prepared)


@pytest.fixture(scope="module")
def forwarder_attack(pki: Pki) -> tuple[bytes, Pki]:
    carol = make_pki()
    for _ in range(64):
        envelope = _forwarded_with_a_front_signer(pki, carol)
        if envelope is not None:
            return envelope, carol
    raise AssertionError("no Bob certificate sorted first in 64 tries")


def test_forwarder_front_signer_does_not_hide_the_original_binding(
    pki: Pki, forwarder_attack: tuple[bytes, Pki]
) -> None:
    envelope, carol = forwarder_attack
    opened = open_envelope(envelope, recipient=(carol.tax_key, carol.tax_cert), trust=pki.trust)
    assert opened.content == DOCUMENT
    assert not opened.report.valid
    assert "not_an_intended_recipient" in [e.code for e in opened.report.errors]


def test_forwarder_front_signer_streamed(pki: Pki, forwarder_attack: tuple[bytes, Pki]) -> None:
    envelope, carol = forwarder_attack
    opened = open_stream(
        io.BytesIO(envelope),
        io.BytesIO(),
        recipient=(carol.tax_key, carol.tax_cert),
        trust=pki.trust,
    )
    assert not opened.report.valid
    assert "not_an_intended_recipient" in [e.code for e in opened.report.errors]


def test_forwarder_front_signer_on_the_command_line(
    pki: Pki, forwarder_attack: tuple[bytes, Pki], tmp_path: Path
) -> None:
    envelope, carol = forwarder_attack
    files = carol.write(tmp_path)
    (tmp_path / "ca-trusted.pem").write_bytes(pki.ca.certificate.public_bytes(Encoding.PEM))
    (tmp_path / "fwd.p7m").write_bytes(envelope)
    result = esign(
        "open", tmp_path / "fwd.p7m", "--key", files["tax_key"], "--cert", files["tax_cert"],
        "--trust", tmp_path / "ca-trusted.pem", "--json",
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "not_an_intended_recipient" in result.stdout


# --- CBC: no padding oracle -----------------------------------------------------------------


def _cbc_envelope(pki: Pki) -> tuple[bytes, int, int]:
    """A CBC envelope of a signed document, the offset of its IV and of its ciphertext end."""
    envelope = seal(
        DOCUMENT,
        signer=(pki.ivanov_key, pki.ivanov_cert),
        recipients=[pki.tax_cert],
        cipher="aes-256-cbc",
    )
    eci = cms.ContentInfo.load(envelope)["content"]["encrypted_content_info"]
    iv = eci["content_encryption_algorithm"]["parameters"].native
    ciphertext = eci["encrypted_content"].native
    return envelope, envelope.index(iv), envelope.index(ciphertext) + len(ciphertext)


def _mutants(pki: Pki) -> dict[str, bytes]:
    envelope, iv_at, end = _cbc_envelope(pki)
    good_padding = bytearray(envelope)
    good_padding[iv_at] ^= 0x01  # only the first plaintext block changes: padding stays good
    bad_padding = bytearray(envelope)
    bad_padding[end - 17] ^= 0x01  # the last plaintext byte changes: padding breaks
    structure = bytearray(envelope)
    structure[iv_at + 1] ^= 0x80  # the SignedData's length octet changes: parse fails
    return {
        "good-padding": bytes(good_padding),
        "bad-padding": bytes(bad_padding),
        "structure": bytes(structure),
    }


def test_cbc_failures_after_unwrapping_are_one_error(pki: Pki) -> None:
    messages = set()
    for name, mutant in _mutants(pki).items():
        with pytest.raises(DecryptionError) as caught:
            open_envelope(mutant, recipient=(pki.tax_key, pki.tax_cert), trust=pki.trust)
        assert type(caught.value) is DecryptionError, name
        messages.add(str(caught.value))
    assert messages == {str(DecryptionError())}


def test_cbc_failures_after_unwrapping_are_one_error_streamed(pki: Pki) -> None:
    messages = set()
    for name, mutant in _mutants(pki).items():
        with pytest.raises(DecryptionError) as caught:
            open_stream(
                io.BytesIO(mutant),
                io.BytesIO(),
                recipient=(pki.tax_key, pki.tax_cert),
                trust=pki.trust,
            )
        assert type(caught.value) is DecryptionError, name
        messages.add(str(caught.value))
    assert messages == {str(DecryptionError())}


def test_cbc_oracle_is_closed_on_the_command_line(pki: Pki, tmp_path: Path) -> None:
    files = pki.write(tmp_path)
    outputs = set()
    for name, mutant in _mutants(pki).items():
        path = tmp_path / f"{name}.p7m"
        path.write_bytes(mutant)
        result = esign(
            "open", path, "--key", files["tax_key"], "--cert", files["tax_cert"],
            "--trust", files["ca"],
        )  # fmt: skip
        assert result.returncode == 1, (name, result.stdout, result.stderr)  # not valid
        outputs.add((result.stdout, result.stderr))
    assert len(outputs) == 1


# --- cheap checks first -------------------------------------------------------------------


class _Unreadable(io.RawIOBase):
    """A document that must not be read: the checks before it should already have failed."""

    def read(self, size: int = -1, /) -> bytes:
        raise AssertionError("the document was read before the signer and recipients were checked")

    def readable(self) -> bool:
        return True


def test_seal_refuses_a_signing_only_recipient(pki: Pki) -> None:
    # Ivanov's certificate allows digitalSignature only: it cannot be encrypted to.
    with pytest.raises(ValueError, match="key usage"):
        seal(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert), recipients=[pki.ivanov_cert])
    with pytest.raises(ValueError, match="key usage"):
        seal_stream(
            _Unreadable(),  # type: ignore[arg-type]
            io.BytesIO(),
            signer=(pki.ivanov_key, pki.ivanov_cert),
            recipients=[pki.ivanov_cert],
        )


def test_seal_checks_the_signer_key_before_reading(pki: Pki, other_pki: Pki) -> None:
    with pytest.raises(ValueError, match="does not belong"):
        seal_stream(
            _Unreadable(),  # type: ignore[arg-type]
            io.BytesIO(),
            signer=(other_pki.ivanov_key, pki.ivanov_cert),
            recipients=[pki.tax_cert],
        )
    with pytest.raises(ValueError, match="does not belong"):
        seal(DOCUMENT, signer=(other_pki.ivanov_key, pki.ivanov_cert), recipients=[pki.tax_cert])


def test_seal_refusals_on_the_command_line(pki: Pki, other_pki: Pki, tmp_path: Path) -> None:
    files = pki.write(tmp_path)
    (tmp_path / "doc").write_bytes(DOCUMENT)
    result = esign(
        "seal", tmp_path / "doc", "--key", files["ivanov_key"], "--cert", files["ivanov_cert"],
        "--to", files["ivanov_cert"], "--out", tmp_path / "e.p7m",
    )  # fmt: skip
    assert result.returncode == 2 and "key usage" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "e.p7m").exists()


def test_key_usage_errors_are_also_esign_errors_for_old_callers(pki: Pki) -> None:
    with pytest.raises(EsignError):
        seal(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert), recipients=[pki.ivanov_cert])
