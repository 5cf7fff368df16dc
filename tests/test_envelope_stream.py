"""Streaming seal/open: one pass, BER framing, the same verdicts, and openssl both ways."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from esign import open_envelope, seal
from esign.envelope import open_stream, seal_stream
from esign.envelope.ber import TruncatedError
from esign.envelope.recipients import PasswordIdentity, PasswordRecipient
from esign.envelope.writer import CHUNK
from esign.errors import DecryptionError, EsignError, RecipientsModifiedError
from esign.hazmat.envelope import encrypt_envelope

from .conftest import Pki, make_pki, openssl_decrypt_verify, run

BIG = os.urandom(CHUNK * 2 + 12345)  # crosses chunk boundaries


def sealed(pki: Pki, document: bytes, cipher: str = "aes-256-gcm", **kw: object) -> bytes:
    out = io.BytesIO()
    size = seal_stream(
        io.BytesIO(document),
        out,
        signer=(pki.ivanov_key, pki.ivanov_cert),
        recipients=kw.get("recipients", [pki.tax_cert]),  # type: ignore[arg-type]
        cipher=cipher,  # type: ignore[arg-type]
        progress=kw.get("progress"),  # type: ignore[arg-type]
    )
    assert size == len(document)
    return out.getvalue()


def opened(pki: Pki, envelope: bytes, recipient: object = None) -> tuple[bytes, object]:
    dst = io.BytesIO()
    result = open_stream(
        io.BytesIO(envelope),
        dst,
        recipient=recipient or (pki.tax_key, pki.tax_cert),  # type: ignore[arg-type]
        trust=pki.trust,
    )
    return dst.getvalue(), result.report


@pytest.mark.parametrize("cipher", ["aes-256-gcm", "aes-256-cbc"])
@pytest.mark.parametrize("document", [b"", b"x", BIG], ids=["empty", "one-byte", "big"])
def test_stream_round_trip(pki: Pki, cipher: str, document: bytes) -> None:
    envelope = sealed(pki, document, cipher)
    assert envelope.startswith(b"\x30\x80")  # BER, indefinite length, as openssl -stream
    content, report = opened(pki, envelope)
    assert content == document
    assert report.valid, report.errors  # type: ignore[attr-defined]
    # The in-memory API reads the streamed form too, with the same verdict.
    in_memory = open_envelope(envelope, recipient=(pki.tax_key, pki.tax_cert), trust=pki.trust)
    assert in_memory.content == document and in_memory.report.valid


def test_progress_is_reported_as_bytes_read(pki: Pki) -> None:
    seen: list[int] = []
    envelope = sealed(pki, BIG, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == len(BIG) and len(seen) >= 3
    read: list[int] = []
    open_stream(
        io.BytesIO(envelope),
        io.BytesIO(),
        recipient=(pki.tax_key, pki.tax_cert),
        trust=pki.trust,
        progress=read.append,
    )
    assert read == sorted(read) and read[-1] >= len(BIG)


def test_stream_opens_in_memory_der_envelopes(pki: Pki) -> None:
    envelope = seal(BIG, signer=(pki.ivanov_key, pki.ivanov_cert), recipients=[pki.tax_cert])
    content, report = opened(pki, envelope)
    assert content == BIG and report.valid  # type: ignore[attr-defined]


def test_stream_password_recipient_and_binding(pki: Pki, other_pki: Pki) -> None:
    envelope = sealed(
        pki, b"doc", recipients=[other_pki.tax_cert, PasswordRecipient(b"pw", iterations=1000)]
    )
    content, report = opened(pki, envelope, PasswordIdentity(b"pw"))
    assert content == b"doc" and report.valid  # type: ignore[attr-defined]


def test_stream_detects_forwarding(pki: Pki, other_pki: Pki) -> None:
    envelope = sealed(pki, b"doc")
    signed = open_envelope(envelope, recipient=(pki.tax_key, pki.tax_cert), trust=pki.trust)
    forwarded = encrypt_envelope(signed.signature, [other_pki.tax_cert])
    _, report = opened(pki, forwarded, (other_pki.tax_key, other_pki.tax_cert))
    assert [e.code for e in report.errors] == ["not_an_intended_recipient"]  # type: ignore[attr-defined]


def test_stream_detects_a_change_in_another_record(pki: Pki, other_pki: Pki) -> None:
    from asn1crypto import cms

    from esign.envelope.recipients import identity_for

    envelope = seal(
        b"doc",
        signer=(pki.ivanov_key, pki.ivanov_cert),
        recipients=[pki.tax_cert, other_pki.tax_cert],
    )
    theirs = identity_for(other_pki.tax_key, other_pki.tax_cert)
    records = cms.ContentInfo.load(envelope)["content"]["recipient_infos"]
    record = next(r for r in records if theirs.unwrap(r) is not None).dump()
    changed = bytearray(envelope)
    changed[envelope.index(record) + len(record) - 2] ^= 0x40
    with pytest.raises(RecipientsModifiedError):
        opened(pki, bytes(changed))


def test_truncation_and_tampering_are_named_errors(pki: Pki) -> None:
    envelope = sealed(pki, BIG)
    with pytest.raises(TruncatedError):
        opened(pki, envelope[: len(envelope) // 2])
    with pytest.raises(EsignError):
        opened(pki, envelope[:-1])
    tampered = bytearray(envelope)
    tampered[len(envelope) // 2] ^= 0x01  # inside the ciphertext
    with pytest.raises(DecryptionError):
        opened(pki, bytes(tampered))
    with pytest.raises(EsignError):
        opened(pki, envelope + b"\x00")


# --- openssl, both directions -------------------------------------------------------------


@pytest.mark.parametrize("cipher", ["aes-256-gcm", "aes-256-cbc"])
def test_openssl_opens_streamed_envelope(
    openssl: str, tmp_path: Path, pki: Pki, cipher: str
) -> None:
    paths = pki.write(tmp_path)
    (tmp_path / "e.p7m").write_bytes(sealed(pki, BIG, cipher))
    document = openssl_decrypt_verify(openssl, tmp_path / "e.p7m", paths, tmp_path)
    assert document == BIG


@pytest.mark.parametrize("recipient_alg", ["ec-p256", "rsa-3072"])
def test_stream_opens_openssl_stream_output(
    openssl: str, tmp_path: Path, recipient_alg: str
) -> None:
    pki = make_pki(recipient_alg=recipient_alg)
    paths = pki.write(tmp_path)
    (tmp_path / "doc").write_bytes(BIG)
    signed = run(
        openssl,
        "cms",
        "-sign",
        "-binary",
        "-nodetach",
        "-stream",
        "-outform",
        "DER",
        "-in",
        tmp_path / "doc",
        "-signer",
        paths["ivanov_cert"],
        "-inkey",
        paths["ivanov_key"],
    )
    assert signed.returncode == 0, signed.stderr
    keyopt = ["-keyopt", "rsa_padding_mode:oaep"] if recipient_alg.startswith("rsa") else []
    enc = run(
        openssl,
        "cms",
        "-encrypt",
        "-binary",
        "-stream",
        "-aes-256-gcm",
        "-outform",
        "DER",
        "-recip",
        paths["tax_cert"],
        *keyopt,
        input=signed.stdout,
    )
    assert enc.returncode == 0, enc.stderr
    content, report = opened(pki, enc.stdout)
    assert content == BIG
    assert report.valid, report.errors  # type: ignore[attr-defined]


def test_unsigned_content_is_streamed_and_reported(pki: Pki) -> None:
    envelope = encrypt_envelope(BIG, [pki.tax_cert])
    content, report = opened(pki, envelope)
    assert content == BIG
    assert [e.code for e in report.errors] == ["not_signed"]  # type: ignore[attr-defined]
