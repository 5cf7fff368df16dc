"""ECDH on P-256/P-384 (RFC 5753): ephemeral-static, X9.63 KDF, AES key wrap."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF

from esign.asn1 import ECDH_KDF_HASH
from esign.envelope.recipients.agreement import KeyAgreeIdentity, KeyAgreement, KeyAgreeRecipient
from esign.errors import MalformedInputError, UnsupportedAlgorithmError


def x963_kdf(algorithm: hashes.HashAlgorithm, length: int, info: bytes) -> X963KDF:
    """The X9.63 KDF over ECC-CMS-SharedInfo (RFC 5753 §7.2)."""
    return X963KDF(algorithm=algorithm, length=length, sharedinfo=info)


class EcdhRecipient(KeyAgreeRecipient):
    """ECDH key agreement (RFC 5753): ephemeral-static, X9.63 KDF with SHA-256, AES-256 wrap."""

    scheme = "dh_single_pass_std_dh_sha256kdf_scheme"
    kdf = staticmethod(x963_kdf)

    def ephemeral(self) -> tuple[dict[str, Any], bytes]:
        public = self.certificate.public_key()
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise UnsupportedAlgorithmError("ECDH recipients need an EC certificate")
        ephemeral = ec.generate_private_key(public.curve)
        point = ephemeral.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"algorithm": {"algorithm": "ec"}, "public_key": point}, ephemeral.exchange(
            ec.ECDH(), public
        )


class EcdhIdentity(KeyAgreeIdentity):
    """An EC private key (or a key handle that does ECDH) that opens ECDH records."""

    schemes = ECDH_KDF_HASH
    kdf = staticmethod(x963_kdf)

    def peer(self, record: KeyAgreement) -> Callable[[], Any] | None:
        curve = self.key.public_key().curve
        algorithm = record.originator_algorithm
        if algorithm["algorithm"].native != "ec" or algorithm["parameters"].native not in (
            None,
            curve.name,
        ):
            if self.certificate is None:
                return None  # trial decryption: a record on another curve is not ours
            raise MalformedInputError(
                "the originator key is not an EC key on the recipient's curve"
            )
        return lambda: ec.EllipticCurvePublicKey.from_encoded_point(curve, record.point)
