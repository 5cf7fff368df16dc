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
from esign.envelope.recipients import _hkdf_sha256, _kem_other_info, kem_unwrap_after_decapsulation
from esign.envelope.sealing import _check_auth_enveloped, decrypt_content
from esign.errors import DecryptionError
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
    other_info = _kem_other_info("aes128_wrap", 16, kemri["ukm"].native)
    assert other_info == hex_file("ori_info.txt")
    assert _hkdf_sha256(hex_file("shared_secret.txt"), 16, other_info) == hex_file("kek.txt")


def test_cek_and_content_decrypt_from_the_shared_secret(
    envelope: cms.AuthEnvelopedData, kemri: KEMRecipientInfo
) -> None:
    cek = kem_unwrap_after_decapsulation(kemri, hex_file("shared_secret.txt"))
    assert cek == hex_file("cek.txt")
    content_type, name, nonce, ciphertext = _check_auth_enveloped(envelope)
    assert (content_type, name) == ("data", "aes128_gcm")
    plaintext = decrypt_content(name, cek, nonce, ciphertext)
    assert plaintext == (RFC9936 / "plaintext.txt").read_bytes().strip()
    assert plaintext == b"Hello, world!"


def test_a_wrong_shared_secret_fails_uniformly(kemri: KEMRecipientInfo) -> None:
    wrong = bytearray(hex_file("shared_secret.txt"))
    wrong[0] ^= 1
    with pytest.raises(DecryptionError):
        kem_unwrap_after_decapsulation(kemri, bytes(wrong))
