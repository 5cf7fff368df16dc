"""The one algorithm policy: which algorithms a verifier accepts, and until when.

Every signature esign verifies — a CMS signer, a counter-signature, a time-stamp token, a
certificate, a CRL, an OCSP response — is judged here, at the time that is proven for it
(a time-stamp's time, else the validation time). The table follows the shape of ETSI TS
119 312 (an algorithm is acceptable until a sunset date): MD2/MD4/MD5 never; SHA-1 and
RSA keys below 2048 bits until the end of 2013 (the date NIST SP 800-131A set for
generating such signatures), so an archive signed and time-stamped in 2010 can still be
judged while a fresh one cannot; DSA never by default. ``legacy=True`` admits SHA-1,
RSA from 1024 bits and DSA at any time (never MD5), to read old archives.

The hash is judged wherever it hides: the ``digestAlgorithm`` of a signer, the hash of
the ``signatureAlgorithm`` (``sha1WithRSAEncryption``, ``ecdsa-with-SHA1``, ...), and
both hashes of RSA-PSS parameters (message and MGF1).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING

from asn1crypto import algos
from asn1crypto import keys as asn1_keys
from cryptography.hazmat.primitives.asymmetric import dsa, rsa

from esign.keys.algorithms import PublicKey

if TYPE_CHECKING:  # pyhanko-certvalidator is imported only where paths are validated
    from pyhanko_certvalidator.policy_decl import AlgorithmUsagePolicy
    from pyhanko_certvalidator.sig_validate import DefaultSignatureValidator

_UTC = datetime.timezone.utc
#: The end of SHA-1 and RSA-1024 signatures (NIST SP 800-131A: disallowed after 2013).
LEGACY_SUNSET = datetime.datetime(2014, 1, 1, tzinfo=_UTC)
#: Digest -> the moment from which it is refused (None: never refused; a date in the
#: past before any signature: always refused).
_NEVER = datetime.datetime(1970, 1, 1, tzinfo=_UTC)
DIGEST_SUNSETS: dict[str, datetime.datetime | None] = {
    "md2": _NEVER,
    "md4": _NEVER,
    "md5": _NEVER,
    "sha1": LEGACY_SUNSET,
}
#: Digests the legacy opt-in admits whatever the date.
LEGACY_DIGESTS = frozenset({"sha1"})
MIN_RSA_BITS = 2048
MIN_LEGACY_RSA_BITS = 1024


def _when(moment: datetime.datetime | None) -> datetime.datetime:
    if moment is None:
        return datetime.datetime.now(_UTC)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=_UTC)


@dataclass(frozen=True)
class AlgorithmPolicy:
    """What the verifier accepts, judged at a moment (default: now)."""

    legacy: bool = False

    def digest_refusal(self, digest: str, at: datetime.datetime | None = None) -> str | None:
        """Why ``digest`` (asn1crypto name, e.g. ``"sha1"``) is refused at ``at``, or None."""
        sunset = DIGEST_SUNSETS.get(digest)
        if sunset is None or (self.legacy and digest in LEGACY_DIGESTS):
            return None
        moment = _when(at)
        if moment < sunset:
            return None
        if sunset == _NEVER:
            return f"digest algorithm {digest} is refused by the algorithm policy"
        return (
            f"digest algorithm {digest} is refused by the algorithm policy after "
            f"{sunset.date().isoformat()} and nothing proves the signature existed before "
            "(a time-stamp from then would; or opt in to legacy algorithms)"
        )

    def key_refusal(self, key: object, at: datetime.datetime | None = None) -> str | None:
        """Why a signer's public key is refused at ``at``, or None."""
        if isinstance(key, dsa.DSAPublicKey) and not self.legacy:
            return "DSA keys are refused by the algorithm policy (opt in to legacy algorithms)"
        if isinstance(key, rsa.RSAPublicKey):
            return self._rsa_refusal(key.key_size, at)
        return None

    def _rsa_refusal(self, bits: int, at: datetime.datetime | None) -> str | None:
        if bits >= MIN_RSA_BITS:
            return None
        if bits >= MIN_LEGACY_RSA_BITS and (self.legacy or _when(at) < LEGACY_SUNSET):
            return None
        return (
            f"RSA-{bits} is below the {MIN_RSA_BITS}-bit minimum of the algorithm policy "
            "(opt in to legacy algorithms)"
        )

    def signature_refusal(
        self, algorithm: algos.SignedDigestAlgorithm, at: datetime.datetime | None = None
    ) -> str | None:
        """Why a ``signatureAlgorithm`` (with the hash inside it) is refused, or None."""
        try:
            name = algorithm.signature_algo
        except ValueError:
            return None  # an unknown mechanism: the signature check itself will say so
        if name == "dsa" and not self.legacy:
            return "DSA signatures are refused by the algorithm policy (opt in to legacy)"
        hashes = []
        if name == "rsassa_pss":
            params = algorithm["parameters"]
            hashes.append(params["hash_algorithm"]["algorithm"].native)
            mgf = params["mask_gen_algorithm"]
            if mgf["algorithm"].native == "mgf1":
                hashes.append(mgf["parameters"]["algorithm"].native)
        elif name not in ("ed25519", "ed448") and not name.startswith("ml_dsa"):
            try:
                hashes.append(algorithm.hash_algo)
            except ValueError:
                return None
        for digest in hashes:
            refusal = self.digest_refusal(digest, at)
            if refusal:
                return f"signature algorithm {algorithm['algorithm'].native}: {refusal}"
        return None

    def public_key_info_refusal(
        self, info: asn1_keys.PublicKeyInfo, at: datetime.datetime | None = None
    ) -> str | None:
        """:meth:`key_refusal` for a key in asn1crypto form (what pyHanko hands over)."""
        kind = info.algorithm
        if kind == "dsa" and not self.legacy:
            return "DSA keys are refused by the algorithm policy (opt in to legacy algorithms)"
        if kind in ("rsa", "rsassa_pss"):
            return self._rsa_refusal(info.bit_size, at)
        return None

    def for_path_validation(self) -> AlgorithmUsagePolicy:
        """The same policy, as pyhanko-certvalidator asks it (certificates, CRLs, OCSP)."""
        from esign.certs.policy_adapters import PathAlgorithmPolicy

        return PathAlgorithmPolicy(self)

    def signature_validator(self, moment: datetime.datetime) -> DefaultSignatureValidator:
        """pyHanko's signature check, refusing what this policy refuses at ``moment``.

        pyhanko-certvalidator consults its algorithm policy for certificates but not for
        the CRLs and OCSP responses it reads; checking every signature here covers them.
        """
        from esign.certs.policy_adapters import PolicySignatureValidator

        return PolicySignatureValidator(self, moment)


def default_digest_for(key: PublicKey) -> str:
    """The digest esign pairs with a signing key: strength-matched, as RFCs recommend."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if isinstance(key, ed25519.Ed25519PublicKey):
        return "sha512"  # RFC 8419
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size >= 384:
        return "sha384"
    return "sha256"
