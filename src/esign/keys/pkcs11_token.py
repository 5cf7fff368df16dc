"""Keys on PKCS#11 tokens (smart cards, HSMs, SoftHSM2) through ``python-pkcs11``.

Keys are generated on the token as sensitive and non-extractable; signing, RSA-OAEP
decryption and ECDH run on the token, and the private key never leaves it. Hash-then-sign
schemes hash on the host where the token lacks a combined mechanism (ECDSA: the host
hashes, the token signs the digest with ``CKM_ECDSA``), which is how PKCS#11 signers
usually work and exposes nothing secret.

Supported on a token: ``ec-p256``, ``ec-p384``, ``ed25519``, ``rsa-3072``, ``rsa-4096``.
``python-pkcs11`` is the optional extra ``esign[pkcs11]``; this module imports it lazily.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from esign.errors import (
    DecryptionError,
    EsignError,
    KeyLockedError,
    KeyNotFoundError,
    KeyStorageError,
    TokenError,
    UnsupportedAlgorithmError,
    WrongPasswordError,
)
from esign.keys.algorithms import PublicKey, get_algorithm
from esign.keys.handle import check_scheme, hash_algorithm, oaep_hash

#: Where Debian's softhsm2 package puts its PKCS#11 module.
SOFTHSM2_LIBRARY = "/usr/lib/softhsm/libsofthsm2.so"

TOKEN_ALGORITHMS = ("ec-p256", "ec-p384", "ed25519", "rsa-3072", "rsa-4096")

_CURVES = {"ec-p256": "secp256r1", "ec-p384": "secp384r1"}


def _pkcs11() -> Any:
    try:
        import pkcs11
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise TokenError(
            "PKCS#11 support needs python-pkcs11: pip install 'esign[pkcs11]'"
        ) from exc
    return pkcs11


@contextmanager
def _token_errors(what: str) -> Iterator[None]:
    """Turn python-pkcs11's exceptions into esign's named errors."""
    p11 = _pkcs11()
    try:
        yield
    except EsignError:
        raise
    except p11.exceptions.PinIncorrect as exc:
        raise WrongPasswordError("wrong PIN for the token") from exc
    except p11.exceptions.PinLocked as exc:
        raise KeyLockedError("the token's PIN is locked") from exc
    except p11.exceptions.NoSuchKey as exc:
        raise KeyNotFoundError(f"{what}: no such key on the token") from exc
    except p11.exceptions.NoSuchToken as exc:
        raise TokenError(f"{what}: no such token") from exc
    except (p11.exceptions.EncryptedDataInvalid, p11.exceptions.EncryptedDataLenRange) as exc:
        raise DecryptionError() from exc
    except p11.exceptions.PKCS11Error as exc:
        raise TokenError(f"{what}: the token refused ({type(exc).__name__})") from exc


class Pkcs11Token:
    """An open, logged-in session on one token of a PKCS#11 module."""

    def __init__(self, token_label: str, pin: str | bytes, *, library: str | None = None) -> None:
        p11 = _pkcs11()
        path = library or os.environ.get("ESIGN_PKCS11_MODULE") or SOFTHSM2_LIBRARY
        if not os.path.exists(path):
            raise TokenError(f"no PKCS#11 module at {path!r}")
        pin_text = pin.decode("utf-8") if isinstance(pin, bytes) else pin
        with _token_errors(f"token {token_label!r}"):
            self._lib = p11.lib(path)
            token = self._lib.get_token(token_label=token_label)
            try:
                self._session = token.open(rw=True, user_pin=pin_text)
            except p11.exceptions.UserAlreadyLoggedIn:
                # PKCS#11 logins are per process: a second login cannot check the PIN.
                raise TokenError(
                    f"token {token_label!r} is already open in this process: use that session"
                ) from None
        self.label = token_label

    def close(self) -> None:
        with _token_errors("closing the session"):
            self._session.close()

    def __enter__(self) -> Pkcs11Token:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def generate_key(self, algorithm: str, label: str) -> Pkcs11Key:
        """Generate a key pair on the token (private half sensitive, non-extractable)."""
        get_algorithm(algorithm)
        if algorithm not in TOKEN_ALGORITHMS:
            raise UnsupportedAlgorithmError(
                f"{algorithm} keys are not generated on tokens; supported: "
                + ", ".join(TOKEN_ALGORITHMS)
            )
        p11 = _pkcs11()
        from pkcs11.util.ec import encode_named_curve_parameters

        attr = p11.Attribute
        private_template = {
            attr.TOKEN: True,
            attr.PRIVATE: True,
            attr.SENSITIVE: True,
            attr.EXTRACTABLE: False,
        }
        key_id = os.urandom(16)
        with _token_errors(f"generating {algorithm}"):
            if self._find(label) is not None:
                raise KeyStorageError(f"the token already holds a key labelled {label!r}")
            if algorithm in _CURVES:
                params = self._session.create_domain_parameters(
                    p11.KeyType.EC,
                    {attr.EC_PARAMS: encode_named_curve_parameters(_CURVES[algorithm])},
                    local=True,
                )
                params.generate_keypair(
                    store=True, label=label, id=key_id, private_template=private_template
                )
            elif algorithm == "ed25519":
                params = self._session.create_domain_parameters(
                    p11.KeyType.EC_EDWARDS,
                    {attr.EC_PARAMS: encode_named_curve_parameters("1.3.101.112")},
                    local=True,
                )
                params.generate_keypair(
                    store=True,
                    label=label,
                    id=key_id,
                    private_template=private_template,
                    mechanism=p11.Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
                )
            else:
                self._session.generate_keypair(
                    p11.KeyType.RSA,
                    int(algorithm.split("-")[1]),
                    store=True,
                    label=label,
                    id=key_id,
                    private_template=private_template,
                )
        return self.key(label)

    def key(self, label: str) -> Pkcs11Key:
        """The key pair labelled ``label`` on this token."""
        found = self._find(label)
        if found is None:
            raise KeyNotFoundError(f"no key labelled {label!r} on token {self.label!r}")
        private, public = found
        return Pkcs11Key(private, _public_key(public), label)

    def labels(self) -> list[str]:
        """Labels of the private keys on the token."""
        p11 = _pkcs11()
        with _token_errors("listing keys"):
            objects = self._session.get_objects({p11.Attribute.CLASS: p11.ObjectClass.PRIVATE_KEY})
            return sorted(str(o.label) for o in objects)

    def _find(self, label: str) -> tuple[Any, Any] | None:
        p11 = _pkcs11()
        with _token_errors(f"key {label!r}"):
            try:
                private = self._session.get_key(p11.ObjectClass.PRIVATE_KEY, label=label)
                public = self._session.get_key(p11.ObjectClass.PUBLIC_KEY, label=label)
            except p11.exceptions.NoSuchKey:
                return None
            except p11.exceptions.MultipleObjectsReturned:
                raise KeyStorageError(f"several keys labelled {label!r} on the token") from None
        return private, public


def _public_key(public: Any) -> PublicKey:
    """The ``cryptography`` public key of a token public-key object."""
    p11 = _pkcs11()
    from pkcs11.util.ec import encode_ec_public_key

    attr = p11.Attribute
    key_type = public.key_type
    if key_type == p11.KeyType.RSA:
        n = int.from_bytes(public[attr.MODULUS], "big")
        e = int.from_bytes(public[attr.PUBLIC_EXPONENT], "big")
        return rsa.RSAPublicNumbers(e, n).public_key()
    if key_type == p11.KeyType.EC:
        loaded = serialization.load_der_public_key(encode_ec_public_key(public))
        assert isinstance(loaded, ec.EllipticCurvePublicKey)
        return loaded
    if key_type == p11.KeyType.EC_EDWARDS:
        point = bytes(public[attr.EC_POINT])
        raw = point[2:] if len(point) == 34 and point[:2] == b"\x04\x20" else point
        return ed25519.Ed25519PublicKey.from_public_bytes(raw)
    raise UnsupportedAlgorithmError(f"unsupported token key type {key_type!r}")


class Pkcs11Key:
    """A :class:`~esign.keys.handle.KeyHandle` whose private key stays on a PKCS#11 token."""

    def __init__(self, private: Any, public: PublicKey, label: str) -> None:
        from esign.keys.algorithms import algorithm_name

        self._private = private
        self._public = public
        self.label = label
        self._algorithm = algorithm_name(public)

    def __repr__(self) -> str:
        return f"Pkcs11Key({self.label!r}, {self._algorithm})"

    @property
    def algorithm(self) -> str:
        return self._algorithm

    def public_key(self) -> PublicKey:
        return self._public

    def sign(self, data: bytes, *, digest: str = "sha256", scheme: str | None = None) -> bytes:
        p11 = _pkcs11()
        chosen = check_scheme(self._algorithm, scheme)
        mech = p11.Mechanism
        with _token_errors(f"signing with {self.label!r}"):
            if chosen == "ecdsa":
                hasher = hashes.Hash(hash_algorithm(digest))
                hasher.update(data)
                raw = bytes(self._private.sign(hasher.finalize(), mechanism=mech.ECDSA))
                half = len(raw) // 2
                return encode_dss_signature(
                    int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
                )
            if chosen == "ed25519":
                return bytes(self._private.sign(data, mechanism=mech.EDDSA))
            name = hash_algorithm(digest).name.upper()  # SHA256, SHA384, SHA512
            if chosen == "rsa-pss":
                size = hash_algorithm(digest).digest_size
                return bytes(
                    self._private.sign(
                        data,
                        mechanism=getattr(mech, f"{name}_RSA_PKCS_PSS"),
                        mechanism_param=(getattr(mech, name), getattr(p11.MGF, name), size),
                    )
                )
            return bytes(self._private.sign(data, mechanism=getattr(mech, f"{name}_RSA_PKCS")))

    def decrypt(
        self,
        ciphertext: bytes,
        *,
        digest: str = "sha256",
        mgf_digest: str | None = None,
        label: bytes | None = None,
    ) -> bytes:
        """RSA-OAEP on the token. SHA-1 is accepted (OAEP's hash needs no collision
        resistance), and some tokens (SoftHSM 2.6) implement only SHA-1 OAEP."""
        if not isinstance(self._public, rsa.RSAPublicKey):
            raise UnsupportedAlgorithmError(f"{self._algorithm} keys do not do key transport")
        name = oaep_hash(digest).name.replace("-", "").upper()  # SHA1, SHA256, ...
        mgf_name = oaep_hash(mgf_digest or digest).name.replace("-", "").upper()
        p11 = _pkcs11()
        try:
            return bytes(
                self._private.decrypt(
                    ciphertext,
                    mechanism=p11.Mechanism.RSA_PKCS_OAEP,
                    mechanism_param=(
                        getattr(p11.Mechanism, "SHA_1" if name == "SHA1" else name),
                        getattr(p11.MGF, mgf_name),
                        label or None,
                    ),
                )
            )
        except (p11.exceptions.ArgumentsBad, p11.exceptions.MechanismParamInvalid) as exc:
            raise TokenError(f"the token does not support RSA-OAEP with {digest}") from exc
        except p11.exceptions.PKCS11Error:
            # Uniform: a wrong key and a damaged ciphertext look the same.
            raise DecryptionError() from None

    def exchange(self, peer: PublicKey) -> bytes:
        """ECDH on the token (``CKM_ECDH1_DERIVE``, no KDF): the raw shared secret."""
        if not isinstance(self._public, ec.EllipticCurvePublicKey):
            raise UnsupportedAlgorithmError(f"{self._algorithm} keys do not do key agreement")
        if (
            not isinstance(peer, ec.EllipticCurvePublicKey)
            or peer.curve.name != self._public.curve.name
        ):
            raise UnsupportedAlgorithmError(f"peer key is not on {self._public.curve.name}")
        p11 = _pkcs11()
        attr = p11.Attribute
        point = peer.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        size = (self._public.curve.key_size + 7) // 8
        with _token_errors(f"key agreement with {self.label!r}"):
            secret = self._private.derive_key(
                p11.KeyType.GENERIC_SECRET,
                size * 8,
                mechanism_param=(p11.KDF.NULL, None, point),
                template={attr.SENSITIVE: False, attr.EXTRACTABLE: True, attr.TOKEN: False},
                store=False,
            )
            return bytes(secret[attr.VALUE])

    def decapsulate(self, ciphertext: bytes) -> bytes:
        raise UnsupportedAlgorithmError(f"{self._algorithm} keys on a token do not decapsulate")
