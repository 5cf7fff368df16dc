"""RFC 9936 Appendix example: an AuthEnvelopedData with an ML-KEM-512 KEMRecipientInfo.

``cryptography`` has no ML-KEM-512, so decapsulation itself cannot run here; the example's
structure is parsed by esign, then every step after decapsulation (KDF input, KEK, key
unwrap, AES-GCM content decryption) is checked against the published intermediate values.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from asn1crypto import cms

from esign.asn1 import KEMRecipientInfo
from esign.envelope.recipients.ml_kem import (
    derive_kek,
    kem_other_info,
    kem_record,
    unwrap_after_decapsulation,
)
from esign.errors import DecryptionError
from esign.hazmat.envelope import decrypt_envelope
from esign.signing.container import load_content_info

RFC9936 = Path(__file__).resolve().parent / "vectors" / "rfc9936-ml-kem-cms"


def hex_file(name: str) -> bytes:
    return bytes.fromhex("".join((RFC9936 / name).read_text().split()))


@pytest.fixture(scope="module")
def envelope() -> cms.AuthEnvelopedData:
    info = load_content_info((RFC9936 / "ML-KEM-512.cms").read_bytes())
    assert info["content_type"].native == "authenticated_enveloped_data"
    return info["content"]


@pytest.fixture(scope="module")
def kemri(envelope: cms.AuthEnvelopedData) -> KEMRecipientInfo:
    (record,) = envelope["recipient_infos"]
    assert record.name == "ori"
    assert record.chosen["ori_type"].dotted == "1.2.840.113549.1.9.16.13.3"  # id-ori-kem
    return KEMRecipientInfo.load(record.chosen["ori_value"].dump())


def test_kem_recipient_info_parses_as_published(kemri: KEMRecipientInfo) -> None:
    assert kemri["version"].native == 0
    assert kemri["rid"].name == "subject_key_identifier"
    assert kemri["rid"].chosen.native == bytes.fromhex((RFC9936 / "ML-KEM-512.keyid").read_text())
    assert kemri["kem"]["algorithm"].dotted == "2.16.840.1.101.3.4.4.1"  # id-alg-ml-kem-512
    assert kemri["kemct"].native == hex_file("ciphertext.txt")
    assert kemri["kdf"]["algorithm"].dotted == "1.2.840.113549.1.9.16.3.28"  # HKDF-SHA256
    assert kemri["kek_length"].native == 16
    assert kemri["wrap"]["algorithm"].native == "aes128_wrap"
    assert kemri["encrypted_key"].native == hex_file("encrypted_cek.txt")
    # The structure re-encodes to the same bytes (nothing lost or reordered).
    assert KEMRecipientInfo.load(kemri.dump()).dump() == kemri.dump()


def test_kdf_input_and_kek_match_the_example(kemri: KEMRecipientInfo) -> None:
    other_info = kem_other_info("aes128_wrap", 16, kemri["ukm"].native)
    assert other_info == hex_file("ori_info.txt")
    kek = derive_kek(hex_file("shared_secret.txt"), "aes128_wrap", 16, kemri["ukm"].native)
    assert kek == hex_file("kek.txt")


class _PublishedSharedSecret:
    """An identity whose decapsulation is the example's published shared secret (there is
    no ML-KEM-512 in ``cryptography``); every later step is esign's own reader."""

    certificate = None

    def unwrap(self, info: cms.RecipientInfo) -> bytes | None:
        kemri = kem_record(info)
        if kemri is None:
            return None
        return unwrap_after_decapsulation(kemri, hex_file("shared_secret.txt"))


def test_cek_and_content_decrypt_from_the_shared_secret(kemri: KEMRecipientInfo) -> None:
    assert unwrap_after_decapsulation(kemri, hex_file("shared_secret.txt")) == hex_file("cek.txt")
    envelope = (RFC9936 / "ML-KEM-512.cms").read_bytes()
    content_type, plaintext = decrypt_envelope(envelope, _PublishedSharedSecret())
    assert content_type == "data"
    assert plaintext == (RFC9936 / "plaintext.txt").read_bytes().strip()
    assert plaintext == b"Hello, world!"


def test_a_wrong_shared_secret_fails_uniformly(kemri: KEMRecipientInfo) -> None:
    wrong = bytearray(hex_file("shared_secret.txt"))
    wrong[0] ^= 1
    with pytest.raises(DecryptionError):
        unwrap_after_decapsulation(kemri, bytes(wrong))
