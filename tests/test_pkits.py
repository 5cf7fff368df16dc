"""NIST PKITS (the 2011 edition shipped in cryptography-vectors) through TrustContext.

The PKITS description is not shipped, so the cases come from the file names: every
``Valid*EE.crt`` must validate and every ``Invalid*EE.crt`` must fail with the reason its
name announces (:data:`EXPECTED`). Each case gets the trust anchor, every PKITS CA
certificate as path-building material, and the CRLs of the CAs its certificates name
(issuers and cRLIssuers), with revocation information required, as PKITS assumes. The
default PKITS inputs apply: any-policy, no explicit policy, mapping and anyPolicy allowed.

The 2011 edition signs with RSA-2048 and SHA-256, which esign's default algorithm policy
accepts, so the cases run under the default policy, except the DSA cases (DSA-1024 keys,
SHA-1 signatures): those run with the explicit legacy opt-in, and a separate test shows
that without it they are refused with the named reason ``weak_algorithm``.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import re
import warnings
from functools import cache
from pathlib import Path

import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509

from esign.certs.trust import FAILURE_CODES, PathPolicy, TrustContext

cryptography_vectors = pytest.importorskip("cryptography_vectors")

PKITS = Path(cryptography_vectors.__file__).parent / "x509" / "PKITS_data"
#: Inside every PKITS certificate's validity (2010-01-01 .. 2030-12-31), except the
#: ones built to be outside it.
MOMENT = datetime.datetime(2020, 6, 1, tzinfo=datetime.timezone.utc)

#: Name fragment -> the failure code an Invalid test must produce. First match wins.
EXPECTED: tuple[tuple[str, str], ...] = (
    ("MissingCRL", "no_revocation_info"),
    ("RevokedCA", "revoked"),
    ("RevokedEE", "revoked"),
    ("CRLnextUpdate", "stale_revocation_info"),
    ("BadCRLSignature", "no_revocation_info"),
    ("BadCRLIssuerName", "no_revocation_info"),
    ("WrongCRL", "no_revocation_info"),
    ("UnknownCRLExtension", "no_revocation_info"),
    ("UnknownCRLEntryExtension", "no_revocation_info"),
    ("cRLSignFalse", "no_revocation_info"),
    ("deltaCRLIndicatorNoBase", "no_revocation_info"),
    ("onlyContains", "no_revocation_info"),
    ("CASignature", "bad_signature"),
    ("EESignature", "bad_signature"),
    ("DSASignature", "bad_signature"),
    ("notBeforeDate", "not_yet_valid"),
    ("notAfterDate", "expired"),
    ("NameChaining", "no_path"),
    ("MissingbasicConstraints", "not_ca"),
    ("cAFalse", "not_ca"),
    ("keyCertSignFalse", "wrong_usage"),
    ("pathLenConstraint", "path_length"),
    ("nameConstraints", "name_constraints"),
    ("UnknownCriticalCertificateExtension", "unknown_critical_extension"),
    ("Policy", "policy"),
    ("Policies", "policy"),
    ("anyPolicy", "policy"),
    ("PolicyMapping", "policy"),
)
#: Invalid cases decided by CRL processing subtleties (self-issued CRL-signing keys,
#: separate CRL keys, indirect CRLs and cRLIssuer, delta CRLs, distribution points and
#: reason partitions, long/negative serial numbers), with the verdict PKITS describes:
#: the certificate is revoked, or no usable CRL covers it (status undetermined), or the
#: only delta CRL is past its nextUpdate.
REVOCATION_VERDICTS = {
    "InvalidBasicSelfIssuedCRLSigningKeyTest7EE": "revoked",
    "InvalidBasicSelfIssuedCRLSigningKeyTest8EE": "not_ca",
    "InvalidBasicSelfIssuedNewWithOldTest5EE": "revoked",
    "InvalidBasicSelfIssuedOldWithNewTest2EE": "revoked",
    "InvalidIDPwithindirectCRLTest23EE": "revoked",
    "InvalidIDPwithindirectCRLTest26EE": "no_revocation_info",
    "InvalidLongSerialNumberTest18EE": "revoked",
    "InvalidNegativeSerialNumberTest15EE": "revoked",
    "InvalidSeparateCertificateandCRLKeysTest20EE": "revoked",
    "InvalidSeparateCertificateandCRLKeysTest21EE": "no_revocation_info",
    "InvalidcRLIssuerTest27EE": "no_revocation_info",
    "InvalidcRLIssuerTest31EE": "revoked",
    "InvalidcRLIssuerTest32EE": "revoked",
    "InvalidcRLIssuerTest34EE": "revoked",
    "InvalidcRLIssuerTest35EE": "no_revocation_info",
    "InvaliddeltaCRLIndicatorNoBaseTest1EE": "no_revocation_info",
    "InvaliddeltaCRLTest10EE": "stale_revocation_info",
    "InvaliddeltaCRLTest3EE": "revoked",
    "InvaliddeltaCRLTest4EE": "revoked",
    "InvaliddeltaCRLTest6EE": "revoked",
    "InvaliddeltaCRLTest9EE": "revoked",
    "InvaliddistributionPointTest2EE": "revoked",
    "InvaliddistributionPointTest3EE": "no_revocation_info",
    "InvaliddistributionPointTest6EE": "revoked",
    "InvaliddistributionPointTest8EE": "no_revocation_info",
    "InvaliddistributionPointTest9EE": "no_revocation_info",
    "InvalidonlySomeReasonsTest15EE": "revoked",
    "InvalidonlySomeReasonsTest16EE": "revoked",
    "InvalidonlySomeReasonsTest17EE": "no_revocation_info",
    "InvalidonlySomeReasonsTest20EE": "revoked",
    "InvalidonlySomeReasonsTest21EE": "revoked",
}


def expected_codes(name: str) -> set[str]:
    if name in REVOCATION_VERDICTS:
        return {REVOCATION_VERDICTS[name]}
    for fragment, code in EXPECTED:
        if fragment in name:
            return {code}
    raise AssertionError(f"no expected reason known for {name}")


@cache
def _raw() -> dict[str, bytes]:
    return {p.stem: p.read_bytes() for p in PKITS.glob("certs/*.crt")}


def _certificates() -> dict[str, asn1_x509.Certificate]:
    """Fresh asn1crypto objects (pyHanko's reads may re-encode parts of a parsed one)."""
    return {name: asn1_x509.Certificate.load(der) for name, der in _raw().items()}


@cache
def _crls() -> list[asn1_crl.CertificateList]:
    return [asn1_crl.CertificateList.load(p.read_bytes()) for p in PKITS.glob("crls/*.crl")]


def _ca_names() -> list[str]:
    return [
        n
        for n in _certificates()
        if not re.match(r"(Valid|Invalid)", n) and n != "TrustAnchorRootCertificate"
    ]


def _case_material(name: str) -> tuple[list[x509.Certificate], list[bytes]]:
    """All CA certificates, and the CRLs of every name reachable up from the EE."""
    certs = _certificates()
    by_subject: dict[str, list[asn1_x509.Certificate]] = {}
    for n in [*_ca_names(), "TrustAnchorRootCertificate"]:
        by_subject.setdefault(certs[n].subject.hashable, []).append(certs[n])
    wanted: set[str] = set()
    todo = [certs[name]]
    seen: set[bytes] = set()
    while todo:
        cert = todo.pop()
        if cert.dump() in seen:
            continue
        seen.add(cert.dump())
        names = [cert.issuer.hashable]
        for point in cert.crl_distribution_points_value or ():
            for issuer in point["crl_issuer"] or ():
                if issuer.name == "directory_name":
                    names.append(issuer.chosen.hashable)
        for issuer_name in names:
            wanted.add(issuer_name)
            todo.extend(by_subject.get(issuer_name, []))
    crls = [c.dump() for c in _crls() if c["tbs_cert_list"]["issuer"].hashable in wanted]
    intermediates = []
    for n in _ca_names():
        # DSAParametersInheritedCACert: cryptography refuses inherited DSA parameters.
        with contextlib.suppress(ValueError):
            intermediates.append(x509.load_der_x509_certificate(_raw()[n]))
    return intermediates, crls


def _anchor() -> x509.Certificate:
    return x509.load_der_x509_certificate(_raw()["TrustAnchorRootCertificate"])


def _leaf(name: str) -> x509.Certificate:
    return x509.load_der_x509_certificate(_raw()[name])


CASES = sorted(
    n for n in (p.stem for p in PKITS.glob("certs/*.crt")) if re.match("(Valid|Invalid)", n)
)

#: Valid cases pyhanko-certvalidator cannot pass, with the reason.
KNOWN_LIMITS = {
    "ValidDSAParameterInheritanceTest5EE": (
        "the EE and the CRL are signed by a DSA key whose parameters are inherited "
        "from its CA: cryptography refuses to load such certificates, and "
        "pyhanko-certvalidator cannot check a CRL signed with inherited parameters "
        "(DSAParametersUnavailable)"
    ),
}


def _context(name: str, *, legacy: bool | None = None) -> TrustContext:
    """The case's trust context; legacy algorithms only for the DSA cases by default."""
    if legacy is None:
        legacy = "DSA" in name
    intermediates, crls = _case_material(name)
    return TrustContext(
        [_anchor()],
        intermediates=intermediates,
        crls=crls,
        name="pkits",
        check_revocation=True,
        legacy_algorithms=legacy,
    )


def test_pkits_cases_found() -> None:
    valid = [c for c in CASES if c.startswith("Valid")]
    invalid = [c for c in CASES if c.startswith("Invalid")]
    assert len(valid) >= 70 and len(invalid) >= 100, (len(valid), len(invalid))


@pytest.mark.parametrize("name", [c for c in CASES if c.startswith("Valid")])
def test_pkits_valid(name: str) -> None:
    if name in KNOWN_LIMITS:
        pytest.xfail(KNOWN_LIMITS[name])
    result = _context(name).validate(_leaf(name), at=MOMENT, usage="any")
    assert result.trusted, result.failures
    assert result.chain[0] == _leaf(name) and result.chain[-1] == _anchor()


@pytest.mark.parametrize("name", [c for c in CASES if c.startswith("Invalid")])
def test_pkits_invalid(name: str) -> None:
    result = _context(name).validate(_leaf(name), at=MOMENT, usage="any")
    assert not result.trusted
    codes = {f.code for f in result.failures}
    assert codes == expected_codes(name), (name, result.failures)
    assert codes <= set(FAILURE_CODES)
    if "revoked" in codes:
        assert result.revoked_at is not None and result.revocation_reason


def test_pkits_dsa_refused_without_legacy_opt_in() -> None:
    name = "ValidDSASignaturesTest4EE"
    assert _context(name, legacy=True).validate(_leaf(name), at=MOMENT, usage="any").trusted
    result = _context(name, legacy=False).validate(_leaf(name), at=MOMENT, usage="any")
    assert not result.trusted
    assert [f.code for f in result.failures] == ["weak_algorithm"]
    assert "dsa" in result.failures[0].message.lower()


def test_pkits_rsa_sha256_needs_no_opt_in() -> None:
    name = "ValidCertificatePathTest1EE"
    assert _context(name, legacy=False).validate(_leaf(name), at=MOMENT, usage="any").trusted


def test_pkits_uid_chain_twice_in_one_context() -> None:
    """asn1crypto re-encodes a read certificate's unique identifiers; a TrustContext must
    not let that break the CA's signature on the next validation (regression)."""
    name = "ValidNameUIDsTest6EE"
    context = _context(name)
    for day in (0, 1, 0, 2):
        moment = MOMENT + datetime.timedelta(days=day)
        assert context.validate(_leaf(name), at=moment, usage="any").trusted


def test_pkits_uid_chain_openssl(openssl: str, tmp_path: Path) -> None:
    """OpenSSL agrees that the unique-identifier chain is valid."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from tests.conftest import run

    anchor = tmp_path / "anchor.pem"
    anchor.write_bytes(_anchor().public_bytes(Encoding.PEM))
    ca = tmp_path / "ca.pem"
    ca.write_bytes(x509.load_der_x509_certificate(_raw()["UIDCACert"]).public_bytes(Encoding.PEM))
    leaf = tmp_path / "leaf.pem"
    leaf.write_bytes(_leaf("ValidNameUIDsTest6EE").public_bytes(Encoding.PEM))
    done = run(
        openssl,
        "verify",
        "-attime",
        str(int(MOMENT.timestamp())),
        "-CAfile",
        anchor,
        "-untrusted",
        ca,
        leaf,
    )
    assert done.returncode == 0, done.stderr


NIST_POLICY_1 = "2.16.840.1.101.3.2.1.48.1"
NIST_POLICY_2 = "2.16.840.1.101.3.2.1.48.2"


@pytest.mark.parametrize(
    ("name", "policy", "trusted"),
    [
        # 4.8.1 All Certificates Same Policy: acceptable with policy 1, not with policy 2.
        ("ValidCertificatePathTest1EE", PathPolicy(frozenset({NIST_POLICY_1}), True), True),
        ("ValidCertificatePathTest1EE", PathPolicy(frozenset({NIST_POLICY_2}), True), False),
        # 4.10.1 Valid Policy Mapping Test1: invalid with mapping inhibited, or policy 2.
        ("ValidPolicyMappingTest1EE", PathPolicy(inhibit_policy_mapping=True), False),
        ("ValidPolicyMappingTest1EE", PathPolicy(frozenset({NIST_POLICY_2}), True), False),
        # 4.12 anyPolicy Test14: invalid once anyPolicy is inhibited.
        ("AnyPolicyTest14EE", PathPolicy(), True),
        ("AnyPolicyTest14EE", PathPolicy(inhibit_any_policy=True), False),
    ],
)
def test_pkits_initial_policy_inputs(name: str, policy: PathPolicy, trusted: bool) -> None:
    """The PKITS cases that depend on the RFC 5280 §6.1.1 user inputs."""
    intermediates, crls = _case_material(name)
    context = TrustContext(
        [_anchor()], intermediates=intermediates, crls=crls, check_revocation=True, policy=policy
    )
    result = context.validate(_leaf(name), at=MOMENT, usage="any")
    assert result.trusted == trusted, result.failures
    if not trusted:
        assert [f.code for f in result.failures] == ["policy"]


# -- the same cases through the command line, with the CRLs given and no other flag ---------


@pytest.fixture(scope="module")
def pkits_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every PKITS CRL as a file named by its digest, and the loadable CA certificates."""
    folder = tmp_path_factory.mktemp("pkits-cli")
    files: dict[str, Path] = {}
    for der in (c.dump() for c in _crls()):
        path = folder / f"{hashlib.sha256(der).hexdigest()[:16]}.crl"
        path.write_bytes(der)
        files[der.hex()] = path
    return files


def _reachable_cas(name: str) -> list[str]:
    """The CA certificates whose subject is an issuer or cRLIssuer reachable from the EE."""
    certs = _certificates()
    by_subject: dict[str, list[str]] = {}
    for n in _ca_names():
        by_subject.setdefault(certs[n].subject.hashable, []).append(n)
    found: list[str] = []
    todo = [name]
    while todo:
        cert = certs[todo.pop()]
        names = [cert.issuer.hashable]
        for point in cert.crl_distribution_points_value or ():
            for issuer in point["crl_issuer"] or ():
                if issuer.name == "directory_name":
                    names.append(issuer.chosen.hashable)
        for n in (n for issuer in names for n in by_subject.get(issuer, [])):
            if n not in found:
                found.append(n)
                todo.append(n)
    return found


def _cli_args(name: str, crl_files: dict[str, Path]) -> list[str]:
    _, crls = _case_material(name)
    certs = [str(PKITS / "certs" / f"{n}.crt") for n in _reachable_cas(name)]
    loadable = [c for c in certs if c.rsplit("/", 1)[-1] != "DSAParametersInheritedCACert.crt"]
    args = ["cert", "verify", str(PKITS / "certs" / f"{name}.crt")]
    args += ["--trust", str(PKITS / "certs" / "TrustAnchorRootCertificate.crt")]
    args += ["--usage", "any", "--at", MOMENT.isoformat(), "--json"]
    if loadable:
        args += ["--cert", *loadable]
    if crls:
        args += ["--crl", *(str(crl_files[c.hex()]) for c in crls)]
    return args


@pytest.mark.parametrize("name", CASES)
def test_pkits_through_esign_cert_verify(
    name: str, pkits_files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """`esign cert verify` with the case's CRLs and no other flag gives the PKITS verdict;
    the DSA cases are refused by the default algorithm policy (documented), and pass with
    ``--legacy-algorithms``."""
    import json

    from esign.cli.main import main

    if name in KNOWN_LIMITS:
        pytest.xfail(KNOWN_LIMITS[name])
    args = _cli_args(name, pkits_files)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PKITS has negative serial numbers on purpose
        code = main(args)
        out = json.loads(capsys.readouterr().out)
        if "DSA" in name:
            assert code == 1 and [e["code"] for e in out["errors"]] == ["weak_algorithm"]
            code = main([*args, "--legacy-algorithms"])
            out = json.loads(capsys.readouterr().out)
    if name.startswith("Valid"):
        assert code == 0, out["errors"]
    else:
        assert code == 1
        assert {e["code"] for e in out["errors"]} == expected_codes(name), out["errors"]
