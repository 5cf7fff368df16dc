"""Trust: validate a certificate path to the anchors of a named trust domain.

Path building and validation (RFC 5280, with revocation) is pyhanko-certvalidator's job;
this module chooses what it is given (anchors, intermediates, CRLs, OCSP responses, time,
algorithm and certificate-policy settings), keeps what it parsed for the next call, and
translates the verdicts into named, stable reasons (:data:`FAILURE_CODES`).

Speed without cutting corners: one :class:`TrustContext` keeps one pyHanko
``ValidationContext`` per validation moment (so CRLs are parsed and their issuers
validated once), and checks an end-entity certificate against a *simple* CRL (complete,
directly issued, no unknown extensions) through a serial-number index instead of
pyHanko's linear scan; every other case goes through pyHanko's full RFC 5280 §6.3
processing. A fast-path failure is always re-run the full way, so the reason reported is
pyHanko's.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko_certvalidator import CertificateValidator, ValidationContext, errors
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    PKIXValidationParams,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)

import esign.asn1  # noqa: F401  (X.509 unique identifiers kept as received)
from esign._sync import run_sync
from esign.certs.revinfo import (
    CrlInput,
    OcspInput,
    index_crls,
    parse_crl,
    parse_ocsp_response,
)
from esign.certs.status import CertificateStatus, RevocationEngine, Status
from esign.certs.trusted_list import TrustedList
from esign.gost.chain import GostAwarePolicy, GostSignatureValidator
from esign.policy import AlgorithmPolicy

#: Key usages a certificate needs for each job esign validates it for.
USAGES: dict[str, frozenset[str]] = {
    "signing": frozenset({"digital_signature"}),
    "encryption": frozenset(),
    "any": frozenset(),
}

#: Every failure code a :class:`PathResult` can carry, with what it means.
FAILURE_CODES: dict[str, str] = {
    "no_path": "no chain of certificates leads to an anchor of the trust domain",
    "expired": "a certificate of the path had expired at the validation time",
    "not_yet_valid": "a certificate of the path was not yet valid at the validation time",
    "revoked": "a certificate of the path was revoked before the validation time",
    "bad_signature": "a certificate's signature does not verify with its issuer's key",
    "weak_algorithm": "an algorithm of the path is refused by the algorithm policy",
    "wrong_usage": "a key usage or extended key usage does not allow the job",
    "not_ca": "an intermediate certificate is not a CA (basicConstraints)",
    "path_length": "the path exceeds a pathLenConstraint",
    "name_constraints": "a name is outside the namespace a CA was constrained to",
    "policy": "no certificate policy is valid for the whole path",
    "unknown_critical_extension": "a certificate carries a critical extension not understood",
    "no_revocation_info": "revocation status is required but could not be established",
    "stale_revocation_info": "the only revocation information is out of date (nextUpdate)",
    "unsupported_algorithm": "a signature uses an algorithm the cryptography backend lacks",
    "malformed": "a certificate, CRL or OCSP response met during validation is malformed",
    "path_invalid": "the path is invalid for another reason (see the message)",
}

_RULES = RevocationCheckingRule

# pyHanko logs every failed CRL-issuer path at WARNING with a traceback; the verdict
# reaches the caller as a named failure, so keep the log quiet.
logging.getLogger("pyhanko_certvalidator").setLevel(logging.ERROR)


def to_asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    """The same certificate as an asn1crypto object (what pyHanko speaks)."""
    return asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER))


def from_asn1(certificate: asn1_x509.Certificate) -> x509.Certificate:
    """The same certificate as a ``cryptography`` object."""
    return x509.load_der_x509_certificate(certificate.dump())


@dataclass(frozen=True)
class PathFailure:
    """One named reason a path is not trusted (``code`` is one of FAILURE_CODES)."""

    code: str
    message: str


@dataclass
class PathResult:
    """The verdict on one certificate path.

    ``domain`` names the trust domain that judged it; when ``trusted`` it is the domain
    that accepted the certificate. ``trusted_list`` names the trusted list of qualified
    issuers on which a CA of the chain appears at the validation time, if any.
    """

    trusted: bool
    domain: str
    chain: list[x509.Certificate] = field(default_factory=list)
    failures: list[PathFailure] = field(default_factory=list)
    revoked_at: datetime.datetime | None = None
    revocation_reason: str | None = None
    validated_at: datetime.datetime | None = None
    trusted_list: str | None = None
    #: The engine's status of each certificate below the anchor, leaf first.
    revocation: list[CertificateStatus] = field(default_factory=list)
    #: False when the caller opted out of revocation checking.
    revocation_checked: bool = True

    def _repr_html_(self) -> str:
        from esign.html_views import path_html

        return path_html(self)

    @property
    def accepted_by(self) -> str | None:
        """The trust domain that accepted the certificate, or None."""
        return self.domain if self.trusted else None

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready summary (for ``esign cert verify --json``)."""
        return {
            "valid": self.trusted,
            "domain": self.domain,
            "accepted_by": self.accepted_by,
            "validated_at": self.validated_at.isoformat() if self.validated_at else None,
            "chain": [
                {
                    "subject": c.subject.rfc4514_string(),
                    "issuer": c.issuer.rfc4514_string(),
                    "serial": format(c.serial_number, "x"),
                }
                for c in self.chain
            ],
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "revocation_reason": self.revocation_reason,
            "trusted_list": self.trusted_list,
            "revocation_checked": self.revocation_checked,
            "revocation": [s.to_dict() for s in self.revocation],
            "errors": [{"code": f.code, "message": f.message} for f in self.failures],
            "warnings": [],
        }


@dataclass(frozen=True)
class PathPolicy:
    """RFC 5280 §6.1.1 initial inputs for certificate policies.

    The default accepts any policy and requires none, as RFC 5280's defaults do.
    ``initial_policies`` are dotted OIDs (or ``"any_policy"``).
    """

    initial_policies: frozenset[str] = frozenset({"any_policy"})
    explicit_policy: bool = False
    inhibit_policy_mapping: bool = False
    inhibit_any_policy: bool = False

    def pkix_params(self) -> PKIXValidationParams:
        return PKIXValidationParams(
            user_initial_policy_set=frozenset(self.initial_policies),
            initial_policy_mapping_inhibit=self.inhibit_policy_mapping,
            initial_explicit_policy=self.explicit_policy,
            initial_any_policy_inhibit=self.inhibit_any_policy,
        )


# (regex over pyHanko's message, code), first match wins; for PathValidationError.
# Compiled on first use (``re`` caches them): only a failure needs them, start-up does not.
_MESSAGE_CODES: tuple[tuple[str, str], ...] = (
    (r"signature (of|parameters for) .* (could not be verified|do not match)", "bad_signature"),
    (r"permitted namespace|excluded from the\s+namespace", "name_constraints"),
    (r"no valid set of policies|policy mapping|policy graph", "policy"),
    (r"unsupported critical extension", "unknown_critical_extension"),
    (r"is not a CA", "not_ca"),
    (r"maximum path length", "path_length"),
    (r"not allowed to sign certificates", "wrong_usage"),
    (r"issuer name could not be matched", "no_path"),
)


#: Exception classes with a code of their own; order matters (subclasses first).
_CLASS_CODES: tuple[tuple[type[Exception], str], ...] = (
    (errors.RevokedError, "revoked"),
    (errors.ExpiredError, "expired"),
    (errors.NotYetValidError, "not_yet_valid"),
    (errors.DisallowedAlgorithmError, "weak_algorithm"),
    (errors.StaleRevinfoError, "stale_revocation_info"),
    (errors.InsufficientRevinfoError, "no_revocation_info"),
    (errors.PathBuildingError, "no_path"),
    (errors.InvalidCertificateError, "wrong_usage"),
)


def classify(exc: Exception) -> str:
    """The stable failure code for an exception pyhanko-certvalidator raised."""
    for cls, code in _CLASS_CODES:
        if isinstance(exc, cls):
            return code
    message = str(getattr(exc, "failure_msg", exc))
    for pattern, code in _MESSAGE_CODES:
        if re.search(pattern, message):
            return code
    return "path_invalid"


def _utc(moment: datetime.datetime) -> datetime.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.timezone.utc)


class TrustContext:
    """A named trust domain: anchors, helpers to build paths, revocation data, policy.

    ``name`` is what a report prints as the domain that accepted a certificate ("valid
    only inside the tax service" is a domain whose only anchor is the tax service's CA).

    Revocation is checked by default: every certificate of the path below the anchor
    needs its status established by the revocation engine (:mod:`esign.certs.status`)
    from the CRLs and OCSP responses given here, per call to :meth:`validate` (a
    signature's embedded values) or fetched; otherwise the path is not trusted
    (``no_revocation_info``, reported as INDETERMINATE / TRY_LATER). ``check_revocation
    =False`` is the explicit opt-out: revocation is then not looked at, and results say
    so. ``allow_fetching`` (off by default) lets pyHanko fetch CRLs and OCSP responses
    over HTTP from the certificates' CRL distribution points and AIA, each request
    bounded by ``fetch_timeout`` seconds.

    Algorithms: ``algorithm_policy`` (default: :class:`esign.policy.AlgorithmPolicy`
    with ``legacy_algorithms``) judges every certificate, CRL and OCSP signature at the
    validation moment.

    Freshness: revocation information is usable up to its nextUpdate; past it, it is
    stale. With ``retroactive_revocation`` (the default) information issued *after* the
    validation time counts too, and the revocation date of an entry decides — so a
    signature made before its certificate was revoked still validates at its signing
    time with today's CRL. Set it False for the strict thisUpdate..nextUpdate window.
    """

    #: Validation contexts kept per moment; older moments are dropped beyond this.
    MAX_CONTEXTS = 16
    #: Cached verdicts per (certificate, moment, usage).
    MAX_RESULTS = 100_000
    TIME_TOLERANCE = datetime.timedelta(seconds=1)
    #: What a TRY_LATER message tells the caller to do.
    REVOCATION_HINT = (
        "give the issuer's CRL or an OCSP response for it (--crl / --ocsp, or crls= / "
        "ocsps=), allow fetching (--fetch, allow_fetching=True), or opt out explicitly "
        "(--no-revocation-check, check_revocation=False)"
    )

    def __repr__(self) -> str:
        anchors = "; ".join(a.subject.rfc4514_string() for a in self.anchors[:3])
        more = f" and {len(self.anchors) - 3} more" if len(self.anchors) > 3 else ""
        revocation = (
            f"{len(self._crl_ders)} CRL(s), {len(self._asn1_ocsps)} OCSP response(s)"
            + (", fetching" if self.allow_fetching else "")
            if self.check_revocation
            else "revocation not checked"
        )
        return f"<TrustContext {self.name!r}: anchors {anchors}{more}; {revocation}>"

    def __init__(
        self,
        anchors: Sequence[x509.Certificate],
        *,
        intermediates: Iterable[x509.Certificate] = (),
        crls: Iterable[CrlInput] = (),
        ocsps: Iterable[OcspInput] = (),
        name: str = "default",
        check_revocation: bool = True,
        legacy_algorithms: bool = False,
        allow_fetching: bool = False,
        fetch_timeout: float = 10.0,
        policy: PathPolicy | None = None,
        trusted_lists: Iterable[TrustedList] = (),
        retroactive_revocation: bool = True,
        algorithm_policy: AlgorithmPolicy | None = None,
    ) -> None:
        if not anchors:
            raise ValueError("a trust context needs at least one anchor")
        self.name = name
        self.anchors = list(anchors)
        self.intermediates = list(intermediates)
        self._asn1_crls = [parse_crl(c) for c in crls]
        self._crl_ders = [c.dump() for c in self._asn1_crls]
        self._asn1_ocsps = [parse_ocsp_response(o) for o in ocsps]
        self.check_revocation = check_revocation
        self.legacy_algorithms = legacy_algorithms
        self.algorithm_policy = algorithm_policy or AlgorithmPolicy(legacy=legacy_algorithms)
        self.allow_fetching = allow_fetching
        self.fetch_timeout = fetch_timeout
        self.policy = policy or PathPolicy()
        self.trusted_lists = list(trusted_lists)
        self.retroactive_revocation = retroactive_revocation
        # DER, parsed afresh for each pyHanko context: asn1crypto may re-encode parts of
        # a parsed certificate (unique identifiers) once pyHanko has read it, which would
        # break its signature for the next context sharing the object.
        self._anchor_ders = [c.public_bytes(Encoding.DER) for c in self.anchors]
        self._intermediate_ders = [c.public_bytes(Encoding.DER) for c in self.intermediates]
        self._crls_by_issuer = index_crls(self._asn1_crls)
        self._engine = RevocationEngine(
            self._crls_by_issuer,
            tolerance=self.TIME_TOLERANCE,
            retroactive=retroactive_revocation,
            has_ocsp=bool(self._asn1_ocsps),
            policy=self.algorithm_policy,
        )
        self._contexts: dict[tuple[datetime.datetime, str], ValidationContext] = {}
        self._cache: dict[tuple[bytes, datetime.datetime, str], PathResult] = {}
        self._keep_moment: datetime.datetime | None = None

    @property
    def crls(self) -> list[bytes]:
        """The CRLs of this context, DER."""
        return list(self._crl_ders)

    @property
    def ocsps(self) -> list[bytes]:
        """The OCSP responses of this context, DER."""
        return [o.dump() for o in self._asn1_ocsps]

    def evidence_expires(self) -> datetime.datetime | None:
        """The earliest nextUpdate of the revocation data held here (None: no limit known,
        e.g. no data, or data fetched on demand): a "now" verdict may be reused until then."""
        if self.allow_fetching:
            return datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)
        limits = [c.next_update for group in self._crls_by_issuer.values() for c in group]
        for response in self._asn1_ocsps:
            try:
                basic = response["response_bytes"]["response"].parsed
                for single in basic["tbs_response_data"]["responses"]:
                    limits.append(single["next_update"].native)
            except (ValueError, KeyError, TypeError):
                return datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)
        known = [limit for limit in limits if limit is not None]
        if len(known) != len(limits):  # no nextUpdate: fresh only at its own time
            return datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)
        return min(known, default=None)

    def compromise(self, chain: list[x509.Certificate]) -> CertificateStatus | None:
        """A revocation of ``chain[0]`` for key compromise (or no stated reason) that a
        CRL held here records, at whatever date, or None.

        Such a revocation withdraws everything the key ever signed: a time-stamp token
        of a compromised TSA proves nothing, whatever time it states.
        """
        if len(chain) < 2:
            return None
        certificate, issuer = (to_asn1(c) for c in chain[:2])
        return self._engine.compromised(certificate, issuer)

    def derive(self, **changes: Any) -> TrustContext:
        """The same trust domain with some settings changed (e.g. extra CRLs): every setting
        not named in ``changes`` is kept, so a derived context never silently loses one."""
        settings: dict[str, Any] = {
            "intermediates": self.intermediates,
            "crls": self._crl_ders,
            "ocsps": [o.dump() for o in self._asn1_ocsps],
            "name": self.name,
            "check_revocation": self.check_revocation,
            "legacy_algorithms": self.legacy_algorithms,
            "allow_fetching": self.allow_fetching,
            "fetch_timeout": self.fetch_timeout,
            "policy": self.policy,
            "trusted_lists": self.trusted_lists,
            "retroactive_revocation": self.retroactive_revocation,
            "algorithm_policy": self.algorithm_policy,
        }
        if "legacy_algorithms" in changes and "algorithm_policy" not in changes:
            settings["algorithm_policy"] = None
        settings.update(changes)
        anchors = settings.pop("anchors", self.anchors)
        return TrustContext(anchors, **settings)

    @classmethod
    def from_trusted_list(cls, trusted_list: TrustedList, **options: object) -> TrustContext:
        """A trust domain whose anchors are the CAs a trusted list names."""
        if not trusted_list.issuers:
            raise ValueError(f"trusted list {trusted_list.name!r} names no CA")
        options.setdefault("name", f"{trusted_list.jurisdiction}: {trusted_list.name}")
        options.setdefault("trusted_lists", [trusted_list])
        return cls(trusted_list.issuers, **options)  # type: ignore[arg-type]

    # -- pyHanko plumbing -------------------------------------------------------------

    def _new_context(
        self,
        moment: datetime.datetime,
        *,
        crls: Sequence[asn1_crl.CertificateList] = (),
        ocsps: Sequence[asn1_ocsp.OCSPResponse] = (),
        fetcher: object = None,
        side_rule: RevocationCheckingRule = _RULES.NO_CHECK,
    ) -> ValidationContext:
        """A pyHanko context that builds and checks paths.

        The main path is checked without revocation (the engine decides it); the engine's
        own context has ``side_rule`` required, so the paths of CRL issuers and OCSP
        responders that pyHanko validates for it are checked for revocation too.
        """
        return ValidationContext(
            trust_roots=[asn1_x509.Certificate.load(d) for d in self._anchor_ders],
            other_certs=[asn1_x509.Certificate.load(d) for d in self._intermediate_ders],
            moment=moment,
            allow_fetching=fetcher is not None,
            fetcher_backend=fetcher,
            crls=[*(asn1_crl.CertificateList.load(d) for d in self._crl_ders), *crls],
            ocsps=[*self._asn1_ocsps, *ocsps],
            revinfo_policy=CertRevTrustPolicy(
                RevocationCheckingPolicy(side_rule, side_rule),
                retroactive_revinfo=self.retroactive_revocation,
            ),
            # GOST R 34.10-2012 chains: pyhanko-certvalidator's plug-ins (esign.gost.chain)
            # around the one algorithm policy.
            algorithm_usage_policy=GostAwarePolicy(self.algorithm_policy.for_path_validation()),
            signature_validator=GostSignatureValidator(
                self.algorithm_policy.signature_validator(moment)
            ),
            time_tolerance=self.TIME_TOLERANCE,
        )

    def _shared_context(
        self, moment: datetime.datetime, side_rule: RevocationCheckingRule = _RULES.NO_CHECK
    ) -> ValidationContext:
        """One context per fixed moment (CRL issuers validated once); "now" is one-off."""
        key = (moment, side_rule.value)
        context = self._contexts.get(key)
        if context is None and moment != self._keep_moment:
            return self._new_context(moment, side_rule=side_rule)
        if context is None:
            if len(self._contexts) >= self.MAX_CONTEXTS:
                self._contexts.pop(next(iter(self._contexts)))
            context = self._contexts[key] = self._new_context(moment, side_rule=side_rule)
        return context

    def _fetcher(self) -> Any:
        """A fresh HTTP fetcher (one per event loop), or None when fetching is off."""
        if not self.allow_fetching:
            return None
        from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend

        return AIOHttpFetcherBackend(per_request_timeout=self.fetch_timeout)

    def _unsupported(self, exc: Exception) -> _Refused:
        return _Refused(
            PathResult(
                False,
                self.name,
                failures=[
                    PathFailure(
                        "unsupported_algorithm",
                        f"a signature of the path cannot be checked by the cryptography "
                        f"backend, even with legacy algorithms allowed: {exc}",
                    )
                ],
            )
        )

    def _checked(
        self,
        certificate: asn1_x509.Certificate,
        moment: datetime.datetime,
        usage: str,
        extras: list[asn1_x509.Certificate],
        call_crls: list[asn1_crl.CertificateList],
        call_ocsps: list[asn1_ocsp.OCSPResponse],
    ) -> tuple[ValidationPath, list[CertificateStatus]]:
        """Build and check the path, then ask the revocation engine about each certificate."""
        fetcher = self._fetcher()
        required = _RULES.CRL_OR_OCSP_REQUIRED
        if fetcher is None and not call_crls and not call_ocsps:
            context = self._shared_context(moment)
            side = self._shared_context(moment, required) if self.check_revocation else context
            engine = self._engine
        else:
            context = self._new_context(moment, crls=call_crls, ocsps=call_ocsps, fetcher=fetcher)
            side = (
                self._new_context(
                    moment, crls=call_crls, ocsps=call_ocsps, fetcher=fetcher, side_rule=required
                )
                if self.check_revocation
                else context
            )
            crls = {k: list(v) for k, v in self._crls_by_issuer.items()}
            for issuer, extra in index_crls(call_crls).items():
                crls.setdefault(issuer, []).extend(extra)
            engine = RevocationEngine(
                crls,
                tolerance=self.TIME_TOLERANCE,
                retroactive=self.retroactive_revocation,
                has_ocsp=bool(self._asn1_ocsps or call_ocsps),
                policy=self.algorithm_policy,
            )
        validator = CertificateValidator(
            certificate,
            intermediate_certs=extras,
            validation_context=context,
            pkix_params=self.policy.pkix_params(),
        )

        async def job() -> tuple[ValidationPath, list[CertificateStatus]]:
            try:
                path = await validator.async_validate_usage(set(USAGES[usage]))
                if not self.check_revocation:
                    return path, []
                if side is not context:
                    # the certificates offered with this call (a signature's chain, a
                    # separate CRL-signing key) may be needed to find a CRL's issuer
                    side.certificate_registry.register_multiple(extras)
                return path, await engine.check_path(path, side, moment)
            finally:
                if fetcher is not None:
                    await fetcher.close()

        try:
            return run_sync(job())
        except UnsupportedAlgorithm as exc:
            raise self._unsupported(exc) from exc
        except (asyncio.TimeoutError, TimeoutError) as exc:
            failure = PathFailure(
                "no_revocation_info",
                f"fetching revocation information timed out after {self.fetch_timeout:g} s",
            )
            raise _Refused(PathResult(False, self.name, failures=[failure])) from exc
        except (errors.ValidationError, errors.PathError) as exc:
            raise _Refused.from_exception(exc) from exc

    # -- public API -------------------------------------------------------------------

    def validate(
        self,
        certificate: x509.Certificate,
        *,
        at: datetime.datetime | None = None,
        usage: str = "signing",
        extra_certificates: Iterable[x509.Certificate] = (),
        crls: Iterable[CrlInput] = (),
        ocsps: Iterable[OcspInput] = (),
    ) -> PathResult:
        """Validate ``certificate`` for ``usage`` at time ``at`` (default: now).

        ``extra_certificates`` help build the path (a signature's embedded chain);
        ``crls``/``ocsps`` add revocation information for this call only (a signature's
        embedded revocation values). Verdicts for an explicit ``at`` are cached per
        certificate, moment, usage and path-building helpers — a verdict depends on
        nothing else here.
        """
        if usage not in USAGES:
            raise ValueError(f"unknown usage {usage!r}; known: {', '.join(USAGES)}")
        moment = _utc(at) if at is not None else datetime.datetime.now(datetime.timezone.utc)
        call_crls = [parse_crl(c) for c in crls]
        call_ocsps = [parse_ocsp_response(o) for o in ocsps]
        der = certificate.public_bytes(Encoding.DER)
        extra_ders = sorted(c.public_bytes(Encoding.DER) for c in extra_certificates)
        # The verdict depends on the certificate, the moment, the usage and the helpers
        # offered for path building (a path may exist only with them): all in the key.
        fingerprint = hashlib.sha256(der)
        for extra in extra_ders:
            fingerprint.update(hashlib.sha256(extra).digest())
        key = (fingerprint.digest(), moment, usage)
        cacheable = at is not None and not call_crls and not call_ocsps and not self.allow_fetching
        if cacheable and key in self._cache:
            return self._cache[key]
        asn1_cert = asn1_x509.Certificate.load(der)
        extras = [asn1_x509.Certificate.load(d) for d in extra_ders]
        self._keep_moment = moment if at is not None else None
        try:
            try:
                path, statuses = self._validate(
                    asn1_cert, moment, usage, extras, call_crls, call_ocsps, [der, *extra_ders]
                )
            except (ValueError, TypeError, KeyError, NotImplementedError) as exc:
                # Malformed data found deep inside pyHanko or asn1crypto: a verdict, no
                # traceback (constructors already refuse most of it up front).
                failure = PathFailure("malformed", f"malformed data in the path: {exc}")
                raise _Refused(PathResult(False, self.name, failures=[failure])) from exc
            except AttributeError as exc:
                # asn1crypto types a name attribute by its OID; a value of another type
                # (an ObjectDescriptor where a string belongs) fails when names are compared
                failure = PathFailure(
                    "malformed", "malformed data in the path: a name attribute of the wrong type"
                )
                raise _Refused(PathResult(False, self.name, failures=[failure])) from exc
        except _Refused as refusal:
            result = refusal.result
            result.failures = [
                PathFailure(
                    f.code, f"no path to an anchor of trust domain {self.name!r}: {f.message}"
                )
                if f.code == "no_path"
                else f
                for f in result.failures
            ]
        else:
            chain = [from_asn1(c) for c in path.iter_certs(include_root=True)][::-1]
            result = self._judge_revocation(chain, statuses, moment)
            if result.trusted:
                result.trusted_list = self._listing(chain, moment)
        result.domain = self.name
        result.validated_at = moment
        result.revocation_checked = self.check_revocation
        if cacheable:
            if len(self._cache) >= self.MAX_RESULTS:
                self._cache.clear()
            self._cache[key] = result
        return result

    def _judge_revocation(
        self,
        chain: list[x509.Certificate],
        statuses: list[CertificateStatus],
        moment: datetime.datetime,
    ) -> PathResult:
        """The path verdict from the engine's per-certificate statuses (leaf first)."""
        result = PathResult(True, self.name, chain=chain, revocation=statuses)
        result.revocation_checked = self.check_revocation
        for status in statuses:
            who = "the end-entity certificate" if not status.is_ca else "CA certificate"
            if status.status is Status.REVOKED:
                assert status.revoked_at is not None
                when = status.revoked_at.strftime("%H:%M:%S on %Y-%m-%d")
                result.failures.append(
                    PathFailure(
                        "revoked",
                        f"{who} {status.subject} was revoked at {when} "
                        f"({status.reason}), according to {status.source or 'its issuer'}",
                    )
                )
                if result.revoked_at is None:
                    result.revoked_at = status.revoked_at
                    result.revocation_reason = status.reason
            elif status.status is Status.UNKNOWN:
                code = "stale_revocation_info" if status.stale else "no_revocation_info"
                result.failures.append(
                    PathFailure(
                        code,
                        f"the revocation status of {who} {status.subject} at "
                        f"{moment.isoformat()} cannot be established ({status.detail}): "
                        f"{self.REVOCATION_HINT}",
                    )
                )
        result.trusted = not result.failures
        return result

    def _listing(self, chain: list[x509.Certificate], moment: datetime.datetime) -> str | None:
        """The trusted list on which the certificate's own issuer is a service at
        ``moment`` (ETSI TS 119 615: a CA above it does not count)."""
        if len(chain) < 2:
            return None
        for trusted_list in self.trusted_lists:
            if trusted_list.lists_issuer(chain[1], at=moment):
                return trusted_list.name
        return None

    def _validate(
        self,
        certificate: asn1_x509.Certificate,
        moment: datetime.datetime,
        usage: str,
        extras: list[asn1_x509.Certificate],
        call_crls: list[asn1_crl.CertificateList],
        call_ocsps: list[asn1_ocsp.OCSPResponse],
        originals: list[bytes],
    ) -> tuple[ValidationPath, list[CertificateStatus]]:
        """``originals``: the DER of the certificate and the extras, as received."""
        try:
            return self._checked(certificate, moment, usage, extras, call_crls, call_ocsps)
        except _Refused as refusal:
            if not refusal.result.failures or refusal.result.failures[0].code != "bad_signature":
                raise
        # Never blame a signature on a shared, already-read object: retry with everything
        # parsed afresh from the bytes received, in a context of its own.
        fresh = [asn1_x509.Certificate.load(d) for d in originals]
        keep, self._keep_moment = self._keep_moment, None
        try:
            return self._checked(fresh[0], moment, usage, fresh[1:], call_crls, call_ocsps)
        finally:
            self._keep_moment = keep


class _Refused(Exception):
    """Internal: carries a failed PathResult out of the validation steps."""

    def __init__(self, result: PathResult) -> None:
        super().__init__(result.failures[0].message if result.failures else "refused")
        self.result = result

    @classmethod
    def from_exception(cls, exc: Exception) -> _Refused:
        code = classify(exc)
        message = str(getattr(exc, "failure_msg", None) or exc)
        result = PathResult(False, "", failures=[PathFailure(code, message)])
        if isinstance(exc, errors.RevokedError):
            result.revoked_at = exc.revocation_dt
            result.revocation_reason = str(exc.reason.native)
        return cls(result)


class TrustDomains:
    """Several named trust domains; a certificate is trusted if one of them accepts it.

    The same certificate can be trusted by the tax service's domain and untrusted by a
    bank's; the result names the domain that accepted it, or lists why each refused.
    It offers the same ``validate``/``name``/``legacy_algorithms`` as a TrustContext, so
    it can be given wherever one is expected.
    """

    def __init__(self, domains: Sequence[TrustContext]) -> None:
        if not domains:
            raise ValueError("give at least one trust domain")
        self.domains = list(domains)
        self.name = " | ".join(d.name for d in self.domains)

    @property
    def legacy_algorithms(self) -> bool:
        return all(d.legacy_algorithms for d in self.domains)

    def validate(self, certificate: x509.Certificate, **options: object) -> PathResult:
        results = []
        for domain in self.domains:
            result = domain.validate(certificate, **options)  # type: ignore[arg-type]
            if result.trusted:
                return result
            results.append(result)
        failures = [
            PathFailure(f.code, f"[{r.domain}] {f.message}") for r in results for f in r.failures
        ]
        first = results[0]
        return PathResult(
            False,
            self.name,
            failures=failures,
            revoked_at=next((r.revoked_at for r in results if r.revoked_at), None),
            revocation_reason=next(
                (r.revocation_reason for r in results if r.revocation_reason), None
            ),
            validated_at=first.validated_at,
        )
