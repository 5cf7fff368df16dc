"""The verification fast path: an ordinary signature costs its hash and its signature check.

:mod:`esign.signing.der` splits the input into slices; this module checks them with
``cryptography`` and reuses everything that belongs to a certificate or an algorithm
rather than to one signature (parsed certificates by DER, their names, keys and hashes;
algorithm identifiers; validated paths through the reference verifier's path cache).

It decides only signatures it fully understands and that hold: one signer, signed
attributes that are valid DER and name the content type, digest, algorithms and
certificate correctly, a signature value that verifies, an algorithm the policy accepts.
Every other case (anything :mod:`esign.signing.der` refuses, a digest or signature that
does not match, a refused algorithm, a signer found only by RFC 5280 name comparison)
returns None, and :mod:`esign.signing.verify` — the reference — decides it from scratch.
So the fast path can only ever agree with the reference or step aside; the path, the
revocation verdict and the level come from the same code as the reference's.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import importlib
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import ModuleType
from typing import Any, BinaryIO

from asn1crypto import algos, cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from esign.certs.trust import PathResult, TrustContext
from esign.certs.trusted_list import TrustedList
from esign.limits import MAX_CMS_BYTES
from esign.policy import AlgorithmPolicy
from esign.signing import der
from esign.signing.container import PARSE_ERRORS, unarmor
from esign.signing.integrity import HASHES
from esign.signing.levels import LevelDecision, decide_level
from esign.signing.report import SignatureLevel, SignerIdentity, VerificationReport

#: Bound on each cache (certificates, algorithm identifiers, names); cleared when full.
MAX_CACHED = 4096

# the same hash names as the reference integrity check accepts
_HASH_NAMES = HASHES
_HASHLIB: dict[str, Callable[..., Any]] = {
    "sha224": hashlib.sha224,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
    "sha3_256": hashlib.sha3_256,
    "sha3_384": hashlib.sha3_384,
    "sha3_512": hashlib.sha3_512,
}
#: ESSCertID(v2) hash algorithms (dotted) -> hashlib names.
_ESS_HASHES = {
    "1.3.14.3.2.26": "sha1",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}
_ECDSA = {
    "1.2.840.10045.4.3.2": "sha256",
    "1.2.840.10045.4.3.3": "sha384",
    "1.2.840.10045.4.3.4": "sha512",
}
_RSA_PKCS1 = {
    "1.2.840.113549.1.1.11": "sha256",
    "1.2.840.113549.1.1.12": "sha384",
    "1.2.840.113549.1.1.13": "sha512",
}
_RSA_PSS = "1.2.840.113549.1.1.10"
_ED25519 = "1.3.101.112"
_MLDSA = {
    "2.16.840.1.101.3.4.3.17": mldsa.MLDSA44PublicKey,
    "2.16.840.1.101.3.4.3.18": mldsa.MLDSA65PublicKey,
    "2.16.840.1.101.3.4.3.19": mldsa.MLDSA87PublicKey,
}

Check = Callable[[Any, bytes, bytes], None]  # (public key, signature, data); raises


class _Cert:
    """One certificate and the per-certificate work every signature by it needs."""

    __slots__ = ("_hashes", "certificate", "der", "identity", "issuer", "issuer_contents", "key",
                 "serial")  # fmt: skip

    def __init__(self, certificate: x509.Certificate, der_bytes: bytes) -> None:
        self.certificate = certificate
        self.der = der_bytes
        self.serial = certificate.serial_number
        self.issuer = certificate.issuer.public_bytes()
        view = memoryview(self.issuer)
        _, _, start, end = der.tlv(view, 0, len(view))
        self.issuer_contents = view[start:end].tobytes()
        try:
            self.key: object = certificate.public_key()
        except Exception:  # an unusable key: no fast path for this signer
            self.key = None
        self.identity = SignerIdentity.from_certificate(certificate)
        self._hashes: dict[str, bytes] = {}

    def digest(self, name: str) -> bytes:
        if name not in self._hashes:
            self._hashes[name] = hashlib.new(name, self.der).digest()
        return self._hashes[name]


class _Algorithm:
    """A signature AlgorithmIdentifier: its asn1crypto form (what the policy judges), its
    name as the reference reports it, and how ``cryptography`` checks it."""

    __slots__ = ("asn1", "check", "der", "key_type", "name")

    def __init__(
        self, asn1: algos.SignedDigestAlgorithm, raw: bytes, check: Check, key_type: Any
    ) -> None:
        self.asn1 = asn1
        self.der = raw
        self.name: str = asn1["algorithm"].native
        self.check = check
        self.key_type = key_type


_READ_ERRORS: tuple[type[Exception], ...] = (*PARSE_ERRORS, der.NotPlain)
_CERTS: dict[bytes, _Cert] = {}
_SIGNATURE_ALGORITHMS: dict[bytes, _Algorithm] = {}
_DIGEST_ALGORITHMS: dict[bytes, str] = {}
#: Byte strings the reference reader already parsed without complaint (sid names, the
#: digestAlgorithms SET): the fast path is never laxer than the reference's parse.
_READ_OK: dict[bytes, bool] = {}
_PER_TRUST: weakref.WeakKeyDictionary[TrustContext, tuple[list[_Cert], AlgorithmPolicy]]
_PER_TRUST = weakref.WeakKeyDictionary()
_LEVELS: dict[tuple[bytes, str], LevelDecision] = {}
_reference: ModuleType | None = None


def _bounded(cache: dict[Any, Any] | set[Any]) -> None:
    if len(cache) >= MAX_CACHED:
        cache.clear()


def _cert_from_der(data: memoryview) -> _Cert:
    hit = der.lookup(_CERTS, data)
    if hit is None:
        raw = data.tobytes()
        try:
            certificate = x509.load_der_x509_certificate(raw)
            hit = _Cert(certificate, raw)
        except Exception as exc:  # any doubt: the reference decides
            raise der.NotPlain(f"certificate: {exc}") from exc
        _bounded(_CERTS)
        _CERTS[raw] = hit
    return hit


def _cert_from_object(certificate: x509.Certificate) -> _Cert:
    return _cert_from_der(memoryview(certificate.public_bytes(Encoding.DER)))


def _read_by_reference(data: memoryview, spec: type[Any]) -> None:
    """Parse ``data`` as asn1crypto ``spec`` and read every field once (as the reference
    reader does), remembering success; raise NotPlain if the reference would refuse it."""
    if der.lookup(_READ_OK, data):
        return
    from esign.signing.container import _walk

    raw = data.tobytes()
    try:
        _walk(spec.load(raw, strict=True))
    except PARSE_ERRORS as exc:
        raise der.NotPlain(f"the reference reader refuses {spec.__name__}") from exc
    _bounded(_READ_OK)
    _READ_OK[raw] = True


def _digest_name(data: memoryview) -> str:
    name = der.lookup(_DIGEST_ALGORITHMS, data)
    if name is None:
        raw = data.tobytes()
        try:
            asn1 = algos.DigestAlgorithm.load(raw, strict=True)
            name = asn1["algorithm"].native
            parameters = asn1["parameters"]
        except PARSE_ERRORS as exc:
            raise der.NotPlain("digest algorithm") from exc
        if name not in _HASH_NAMES or parameters.native is not None:
            raise der.NotPlain(f"digest algorithm {name}")
        _bounded(_DIGEST_ALGORITHMS)
        _DIGEST_ALGORITHMS[raw] = name
    return name


def _signature_algorithm(data: memoryview, dotted: str) -> _Algorithm:
    hit = der.lookup(_SIGNATURE_ALGORITHMS, data)
    if hit is None:
        raw = data.tobytes()
        try:
            asn1 = algos.SignedDigestAlgorithm.load(raw, strict=True)
            from esign.signing.container import _walk

            _walk(asn1)
            hit = _mechanism(asn1, dotted, raw)
        except _READ_ERRORS as exc:
            raise der.NotPlain(f"signature algorithm {dotted}") from exc
        _bounded(_SIGNATURE_ALGORITHMS)
        _SIGNATURE_ALGORITHMS[raw] = hit
    return hit


def _mechanism(asn1: algos.SignedDigestAlgorithm, dotted: str, raw: bytes) -> _Algorithm:
    """How ``cryptography`` checks this algorithm; NotPlain for anything else."""
    view = memoryview(raw)
    bare = len(der.children(view, *der.tlv(view, 0, len(view))[2:])) == 1  # no parameters
    if dotted in _ECDSA and bare:
        ecdsa = ec.ECDSA(_HASH_NAMES[_ECDSA[dotted]]())
        check: Check = lambda k, s, d: k.verify(s, d, ecdsa)  # noqa: E731
        return _Algorithm(asn1, raw, check, ec.EllipticCurvePublicKey)
    if dotted == _ED25519 and bare:
        return _Algorithm(asn1, raw, lambda k, s, d: k.verify(s, d), ed25519.Ed25519PublicKey)
    if dotted in _MLDSA and bare:
        return _Algorithm(asn1, raw, lambda k, s, d: k.verify(s, d), _MLDSA[dotted])
    if dotted in _RSA_PKCS1:
        pkcs1, digest = padding.PKCS1v15(), _HASH_NAMES[_RSA_PKCS1[dotted]]()
        check = lambda k, s, d: k.verify(s, d, pkcs1, digest)  # noqa: E731
        return _Algorithm(asn1, raw, check, rsa.RSAPublicKey)
    if dotted == _RSA_PSS:
        params = asn1["parameters"]
        mgf = params["mask_gen_algorithm"]
        trailer = params["trailer_field"].native
        message_hash = params["hash_algorithm"]["algorithm"].native
        mgf_hash = mgf["parameters"]["algorithm"].native
        if (
            mgf["algorithm"].native != "mgf1"
            or trailer not in (None, "trailer_field_bc")
            or message_hash not in _HASH_NAMES
            or mgf_hash not in _HASH_NAMES
        ):
            raise der.NotPlain("RSA-PSS parameters")
        pss = padding.PSS(mgf=padding.MGF1(_HASH_NAMES[mgf_hash]()),
                          salt_length=params["salt_length"].native)  # fmt: skip
        digest = _HASH_NAMES[message_hash]()
        return _Algorithm(asn1, raw, lambda k, s, d: k.verify(s, d, pss, digest), rsa.RSAPublicKey)
    raise der.NotPlain(f"signature algorithm {dotted}")


def _trust_parts(trust: TrustContext) -> tuple[list[_Cert], AlgorithmPolicy]:
    """The anchors and intermediates of ``trust`` (where a signer may also be found) and
    its algorithm policy, worked out once per trust context."""
    hit = _PER_TRUST.get(trust)
    if hit is None:
        held = [_cert_from_object(c) for c in [*trust.anchors, *trust.intermediates]]
        policy = getattr(trust, "algorithm_policy", None) or AlgorithmPolicy(
            legacy=trust.legacy_algorithms
        )
        hit = (held, policy)
        _PER_TRUST[trust] = hit
    return hit


_LAST_MOMENT = datetime.datetime(9999, 12, 31, tzinfo=datetime.timezone.utc)
_ACCEPTED: set[tuple[AlgorithmPolicy, bytes, str, bytes]] = set()


def _never_refused(
    policy: AlgorithmPolicy, algorithm: _Algorithm, digest: str, cert: _Cert
) -> bool:
    """Whether esign's own policy accepts this digest, signature algorithm and key at every
    moment. Its refusals only begin at sunset dates (an algorithm refused at some moment
    stays refused after it), so accepting them at the last moment means always; a policy
    of another class is asked every time."""
    if type(policy) is not AlgorithmPolicy:
        return False
    key = (policy, algorithm.der, digest, cert.der)
    if key in _ACCEPTED:
        return True
    if (
        policy.digest_refusal(digest, _LAST_MOMENT)
        or policy.signature_refusal(algorithm.asn1, _LAST_MOMENT)
        or policy.key_refusal(cert.key, _LAST_MOMENT)
    ):
        return False
    _bounded(_ACCEPTED)
    _ACCEPTED.add(key)
    return True


def _names_certificate(ess: der.EssCertId, cert: _Cert) -> bool:
    """The ESS signing-certificate(-v2) attribute names ``cert``, byte for byte."""
    name = _ESS_HASHES.get(ess.hash_algorithm)
    if name is None or not hmac.compare_digest(cert.digest(name), ess.cert_hash):
        return False
    if ess.serial is None:
        return True
    assert ess.issuer_names is not None
    return ess.serial == cert.serial and any(n == cert.issuer_contents for n in ess.issuer_names)


def _level(leaf: _Cert, chain: list[x509.Certificate], trusted_lists: Sequence[TrustedList],
           jurisdiction: str, at: datetime.datetime) -> LevelDecision:  # fmt: skip
    """:func:`decide_level`, remembered per leaf when no trusted list of the jurisdiction
    is given (the decision then depends on the leaf's content alone)."""
    if any(t.jurisdiction == jurisdiction for t in trusted_lists):
        return decide_level(chain, trusted_lists=trusted_lists, jurisdiction=jurisdiction, at=at)
    key = (leaf.digest("sha256"), jurisdiction)
    hit = _LEVELS.get(key)
    if hit is None:
        hit = decide_level(chain, trusted_lists=(), jurisdiction=jurisdiction, at=at)
        _bounded(_LEVELS)
        _LEVELS[key] = hit
    return LevelDecision(hit.level, hit.jurisdiction, list(hit.found), list(hit.missing))


def verify(
    signature: bytes,
    data: bytes | bytearray | memoryview | None,
    *,
    trust: TrustContext,
    at: datetime.datetime | None,
    certificates: Iterable[x509.Certificate],
    trusted_lists: Sequence[TrustedList],
    jurisdiction: str,
    digests: Mapping[str, bytes] | None,
) -> VerificationReport | None:
    """The report for an ordinary signature that holds, or None for the reference to
    decide (see the module documentation). Raises only what the reference would raise
    for the same input before reading it (unreadable PEM)."""
    if type(trust) is not TrustContext:
        return None
    if len(signature) > MAX_CMS_BYTES:
        return None  # the reference says what to do with it
    der_bytes = bytes(unarmor(signature))  # bytes: views of it hash like the bytes they show
    try:
        return _verify(der_bytes, data, trust, at, certificates, trusted_lists, jurisdiction,
                       digests)  # fmt: skip
    except der.NotPlain:
        return None
    except Exception:  # whatever went wrong here, the reference decides afresh
        return None


#: How much of a streamed document is hashed at a time.
CHUNK = 1 << 20


def stream_digests(
    signature: bytes, stream: BinaryIO, trust: TrustContext
) -> dict[str, bytes] | None:
    """For an ordinary detached signature, the digest its signer needs of the document in
    ``stream``, read once; None, with the stream untouched, for anything else.

    :func:`esign.signing.verify.verify` then goes on with ``digests=``, which the fast path
    and the reference take alike (one signer, one digest algorithm the policy accepts).
    """
    if type(trust) is not TrustContext or len(signature) > MAX_CMS_BYTES:
        return None
    try:
        parts = der.split_signed_data(bytes(unarmor(signature)))
        if parts.content is not None:
            return None
        name = _digest_name(parts.signer.digest_algorithm)
        _signature_algorithm(parts.signer.signature_algorithm, parts.signer.signature_oid)
        policy = _trust_parts(trust)[1]
    except Exception:  # not an ordinary signature: the reference reads the stream
        return None
    if policy.digest_refusal(name) is not None:
        return None
    hasher = _HASHLIB[name]()
    while chunk := stream.read(CHUNK):
        hasher.update(chunk)
    return {name: hasher.digest()}


def _verify(
    der_bytes: bytes,
    data: bytes | bytearray | memoryview | None,
    trust: TrustContext,
    at: datetime.datetime | None,
    certificates: Iterable[x509.Certificate],
    trusted_lists: Sequence[TrustedList],
    jurisdiction: str,
    digests: Mapping[str, bytes] | None,
) -> VerificationReport | None:
    try:
        parts = der.split_signed_data(der_bytes)
    except (ValueError, TypeError, IndexError, OverflowError, RecursionError) as exc:
        raise der.NotPlain(f"the reader stumbled: {exc}") from exc  # the reference decides
    signer = parts.signer
    # digestAlgorithms is not signed: the fast path answers only when it names exactly the
    # signer's algorithm, byte for byte; anything else is judged by the reference
    announced = bytes(signer.digest_algorithm)
    if len(announced) >= 0x80 or bytes(parts.digest_algorithms) != (
        b"\x31" + bytes([len(announced)]) + announced
    ):
        return None
    _read_by_reference(parts.digest_algorithms, cms.DigestAlgorithms)
    _read_by_reference(signer.issuer, asn1_x509.Name)
    digest_name = _digest_name(signer.digest_algorithm)
    algorithm = _signature_algorithm(signer.signature_algorithm, signer.signature_oid)
    held, policy = _trust_parts(trust)
    embedded = [_cert_from_der(c) for c in parts.certificates]
    extra = [_cert_from_object(c) for c in certificates]

    # the content's digest, as the reference takes it (anything unusual: the reference)
    if policy.digest_refusal(digest_name) is not None:
        return None
    if digests is not None:
        if data is not None or parts.content is not None:
            return None
        digest = digests.get(digest_name)
        if digest is None:
            return None
    elif parts.content is not None:
        if data is not None:
            return None
        digest = _HASHLIB[digest_name](parts.content).digest()
    elif data is None:
        return None
    else:
        digest = _HASHLIB[digest_name](data).digest()

    # the signer, found as the reference finds it first: serial, then the issuer's DER
    issuer = signer.issuer.tobytes()
    found = None
    for cert in (*embedded, *extra, *held):
        if cert.serial == signer.serial and cert.issuer == issuer:
            found = cert
            break
    if found is None or not isinstance(found.key, algorithm.key_type):
        return None

    judged_at = at or datetime.datetime.now(datetime.timezone.utc)
    if not _never_refused(policy, algorithm, digest_name, found) and (
        policy.digest_refusal(digest_name, judged_at)
        or policy.signature_refusal(algorithm.asn1, judged_at)
        or policy.key_refusal(found.key, judged_at)
    ):
        return None

    # integrity: what integrity.check asks, each failure left to the reference
    if signer.content_type != parts.content_type:
        return None
    if signer.protection is not None and (
        signer.protection[0] != signer.digest_algorithm_value
        or signer.protection[1] != signer.signature_algorithm_value
    ):
        return None
    if signer.ess is not None and not _names_certificate(signer.ess, found):
        return None
    if not hmac.compare_digest(signer.message_digest, digest):
        return None
    try:
        algorithm.check(found.key, signer.signature.tobytes(), signer.signed_bytes())
    except InvalidSignature:
        return None
    except (ValueError, TypeError):
        return None

    report = VerificationReport(
        digest_algorithm=digest_name,
        signature_algorithm=algorithm.name,
        signer=found.identity,
        signing_time=signer.signing_time,
        content_intact=True,
        signature_intact=True,
    )
    if signer.signing_time is None:
        report.warn("no_signing_time", "the signer did not state a signing time")
    if signer.ess is None:
        report.warn(
            "no_signing_certificate_attribute",
            "no ESS signing-certificate(-v2) attribute binds the signer certificate",
        )
    reference = _reference_module()
    extras = (*embedded, *extra)
    fingerprints = (found.digest("sha256"), *sorted(c.digest("sha256") for c in extras))
    path = reference._PATHS.validate(
        trust, found.certificate, at, "signing", [c.certificate for c in extras], fingerprints
    )
    _replay_path(report, path, at)
    if report.errors:
        reference._classify_path(report, path, found.certificate, None)
    if not report.errors:
        report.valid = True
        decision = _level(found, path.chain, trusted_lists, jurisdiction, judged_at)
        report.level = decision.level
        report.jurisdiction = decision.jurisdiction
        report.evidence = decision.found
        report.missing_evidence = decision.missing
        if trusted_lists and decision.level is not SignatureLevel.QUALIFIED:
            report.warn("not_qualified", decision.summary)
    return report.finish()


#: What a validated path puts into a report, worked out once per (path, moment).
_PATH_SECTIONS: dict[tuple[int, datetime.datetime | None], tuple[PathResult, VerificationReport]]
_PATH_SECTIONS = {}


def _replay_path(
    report: VerificationReport, path: PathResult, moment: datetime.datetime | None
) -> None:
    """The reference's report of ``path`` (``_report_path``), built once per cached path
    and copied into ``report``: the same findings, the same texts."""
    key = (id(path), moment)
    hit = _PATH_SECTIONS.get(key)
    if hit is None or hit[0] is not path:
        section = VerificationReport()
        _reference_module()._report_path(section, path, moment)
        _bounded(_PATH_SECTIONS)
        hit = _PATH_SECTIONS[key] = (path, section)
    section = hit[1]
    report.validation_time = section.validation_time
    report.trust_domain = section.trust_domain
    report.chain = section.chain
    report.revocation = section.revocation
    report.errors.extend(section.errors)
    report.warnings.extend(section.warnings)


def _reference_module() -> ModuleType:
    """The reference verifier (``esign.signing.verify``; its package exports the function
    under the same name, so it is looked up as a module)."""
    global _reference
    if _reference is None:
        _reference = importlib.import_module("esign.signing.verify")
    return _reference
