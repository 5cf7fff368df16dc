"""``esign ca``, ``esign cert`` and ``esign crl``: a certificate authority in a folder.

``esign ca init`` creates the folder (certificate, encrypted key, SQLite registry);
``esign cert issue|reissue|revoke|show`` and ``esign crl`` work on it. The CA key's
password comes from ``--password-file``, ``$ESIGN_PASSWORD`` or a prompt.
``esign ca init --key REF`` keeps the CA key where it is (a ``pkcs11:`` URI or
``vault:FILE#NAME``, see :mod:`esign.cli.keyref`); the folder records REF and the other
commands open the key there (PIN or vault password from the same sources).

Other modules add subcommands to the ``cert`` group by appending a function to
:data:`CERT_SUBCOMMAND_HOOKS`; ``register`` calls each with the group's subparsers.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from esign.cli.common import (
    EXIT_VALID,
    LazyChoices,
    UsageError,
    add_password_options,
    certificate_from,
    emit,
    parse_time,
    password_from,
    positive_int,
    read_file,
    write_file,
)

if TYPE_CHECKING:  # the CA itself is imported by the commands that use it
    from esign.certs.authority import CertificateAuthority
    from esign.certs.profiles import QualifiedSettings

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

#: Functions that add subcommands to ``esign cert`` (e.g. ``cert verify``), called by
#: :func:`register` with the ``cert`` group's subparsers object.
CERT_SUBCOMMAND_HOOKS: list[Callable[[SubParsers], None]] = []

#: The revocation reasons ``esign.certs.registry.REVOCATION_REASONS`` accepts (spelled out
#: so that building the parser does not import the registry; a test keeps them equal).
REASONS = (
    "unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, "
    "cessationOfOperation, privilegeWithdrawn, aACompromise"
)


def _profile_names() -> Iterable[str]:
    from esign.certs.profiles import PROFILES

    return PROFILES


def _qc_type_names() -> Iterable[str]:
    from esign.certs.qualified import QC_TYPE_NAMES

    return QC_TYPE_NAMES.values()


def _ru_class_names() -> Iterable[str]:
    from esign.certs.qualified import RU_CLASS_NAMES

    return RU_CLASS_NAMES


def register(subparsers: SubParsers) -> None:
    ca = subparsers.add_parser("ca", help="create and run a certificate authority in a folder")
    ca_sub = ca.add_subparsers(dest="ca_command", required=True, parser_class=type(ca))
    _register_init(ca_sub)
    _register_ocsp(ca_sub)

    cert = subparsers.add_parser("cert", help="issue, re-issue, revoke and show certificates")
    cert_sub = cert.add_subparsers(dest="cert_command", required=True, parser_class=type(cert))
    _register_issue(cert_sub)
    _register_reissue(cert_sub)
    _register_revoke(cert_sub)
    _register_show(cert_sub)
    for hook in CERT_SUBCOMMAND_HOOKS:
        hook(cert_sub)

    crl = subparsers.add_parser("crl", help="write the CA's CRL (complete or delta)")
    crl.add_argument("--ca", required=True, metavar="DIR", help="the CA folder")
    crl.add_argument("--out", required=True, metavar="FILE", help="CRL output")
    crl.add_argument("--delta", action="store_true", help="a delta CRL on the last complete one")
    crl.add_argument(
        "--days", type=positive_int, default=7, help="days until nextUpdate (default 7)"
    )
    crl.add_argument("--der", action="store_true", help="write DER instead of PEM")
    add_password_options(crl)
    crl.set_defaults(func=cmd_crl)


def _register_init(sub: SubParsers) -> None:
    p = sub.add_parser(
        "init",
        help="create a CA in a folder (root, or intermediate)",
        epilog='example: esign ca init --subject "CN=Tax Root CA,O=Tax" --out-dir taxca '
        "--crl-url http://ca.example/ca.crl --delta-crl-url http://ca.example/delta.crl",
    )
    p.add_argument("--subject", required=True, metavar="DN", help='e.g. "CN=Tax Root CA,O=Tax"')
    p.add_argument("--out-dir", required=True, metavar="DIR", help="the new CA folder")
    p.add_argument("--alg", default="ec-p256", metavar="NAME", help="key algorithm (ec-p256)")
    p.add_argument(
        "--key",
        metavar="REF",
        help="keep the CA key on a token (pkcs11: URI) or in a vault (vault:FILE#NAME)"
        " instead of making one; the folder records REF",
    )
    p.add_argument(
        "--days", type=positive_int, default=3650, help="validity in days (default 3650)"
    )
    p.add_argument("--parent", metavar="DIR", help="make an intermediate under this CA folder")
    p.add_argument("--path-length", type=int, metavar="N", help="basicConstraints pathLen")
    p.add_argument("--crl-url", metavar="URL", help="CRL distribution point of issued certs")
    p.add_argument(
        "--delta-crl-url",
        metavar="URL",
        help="where delta CRLs are published: the freshestCRL extension of issued certs and "
        "of complete CRLs (RFC 5280 §5.2.6)",
    )
    p.add_argument("--ocsp-url", metavar="URL", help="OCSP responder URL of issued certs")
    p.add_argument("--ca-issuers-url", metavar="URL", help="where the CA certificate is")
    p.add_argument(
        "--registry",
        metavar="URL",
        help="registry store: postgresql://... or sqlite:///PATH (default: a file in DIR);"
        " recorded in DIR and used by every --ca DIR command",
    )
    q = p.add_argument_group("qualified CA (profiles qualified-eidas, qualified-ru)")
    q.add_argument(
        "--pds",
        action="append",
        metavar="URL[,LANG]",
        help="eIDAS PKI disclosure statement (QcPDS), language default en (repeatable)",
    )
    q.add_argument(
        "--qc-type",
        choices=LazyChoices(_qc_type_names),
        metavar="TYPE",
        default="esign",
        help="QcType: %(choices)s (default esign)",
    )
    q.add_argument("--no-qscd", action="store_true", help="keys are not on a QSCD (no QcSSCD)")
    q.add_argument(
        "--eidas-policy",
        choices=["QCP-n", "QCP-l", "QCP-n-qscd", "QCP-l-qscd"],
        help="EN 319 411-2 policy (default QCP-n-qscd, or QCP-n with --no-qscd)",
    )
    q.add_argument(
        "--issuer-sign-tool",
        nargs=4,
        metavar=("SIGN_TOOL", "CA_TOOL", "SIGN_TOOL_CERT", "CA_TOOL_CERT"),
        help="Russian issuerSignTool: the CA's certified tools and their certificates",
    )
    q.add_argument("--subject-sign-tool", metavar="TEXT", help="default Russian subjectSignTool")
    q.add_argument(
        "--ru-class",
        action="append",
        choices=LazyChoices(_ru_class_names),
        metavar="CLASS",
        help="%(choices)s",
    )
    add_password_options(p)
    p.set_defaults(func=cmd_ca_init)


def _register_ocsp(sub: SubParsers) -> None:
    p = sub.add_parser("ocsp", help="answer a DER OCSP request from the CA's registry")
    p.add_argument("--ca", required=True, metavar="DIR", help="the CA folder")
    p.add_argument("--request", required=True, metavar="FILE", help="DER OCSP request")
    p.add_argument("--out", required=True, metavar="FILE", help="DER OCSP response")
    add_password_options(p)
    p.set_defaults(func=cmd_ocsp)

    s = sub.add_parser("serve-ocsp", help="an OCSP responder over HTTP until interrupted")
    s.add_argument("--ca", required=True, metavar="DIR", help="the CA folder")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    s.add_argument("--port", type=int, default=8080, help="port (0: any free port)")
    add_password_options(s)
    s.set_defaults(func=cmd_serve_ocsp)


def _add_subject_key(p: argparse.ArgumentParser) -> None:
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--csr", metavar="FILE", help="PKCS#10 request (PEM or DER)")
    source.add_argument("--public-key", metavar="FILE", help="public key (PEM or DER SPKI)")


def _register_issue(sub: SubParsers) -> None:
    p = sub.add_parser("issue", help="issue a certificate from a CSR or a public key")
    p.add_argument("--ca", required=True, metavar="DIR", help="the CA folder")
    _add_subject_key(p)
    p.add_argument("--subject", metavar="DN", help="subject (required with --public-key)")
    p.add_argument(
        "--profile",
        required=True,
        choices=LazyChoices(_profile_names),
        metavar="PROFILE",
        help="%(choices)s",
    )
    p.add_argument("--days", type=positive_int, default=365, help="validity in days (default 365)")
    p.add_argument("--email", action="append", default=[], help="e-mail SAN (repeatable)")
    p.add_argument("--uri", action="append", default=[], help="URI SAN (repeatable)")
    p.add_argument("--path-length", type=int, metavar="N", help="pathLen (profile ca)")
    p.add_argument("--subject-sign-tool", metavar="TEXT", help="Russian subjectSignTool")
    p.add_argument("--out", required=True, metavar="FILE", help="certificate output")
    p.add_argument("--der", action="store_true", help="write DER instead of PEM")
    add_password_options(p)
    p.set_defaults(func=cmd_issue)


def _register_reissue(sub: SubParsers) -> None:
    p = sub.add_parser(
        "reissue",
        help="forgotten password: revoke a certificate and issue one for a new key",
    )
    p.add_argument("--ca", required=True, metavar="DIR", help="the CA folder")
    p.add_argument("serial", nargs="?", metavar="SERIAL", help="serial (hex) of the old cert")
    p.add_argument("--cert", metavar="FILE", help="the old certificate (instead of SERIAL)")
    _add_subject_key(p)
    p.add_argument("--reason", choices=["superseded", "keyCompromise"], default="superseded")
    p.add_argument("--days", type=positive_int, default=365)
    p.add_argument("--out", required=True, metavar="FILE", help="new certificate output")
    add_password_options(p)
    p.set_defaults(func=cmd_reissue)


def _register_revoke(sub: SubParsers) -> None:
    p = sub.add_parser("revoke", help="revoke a certificate this CA issued")
    p.add_argument("--ca", required=True, metavar="DIR", help="the CA folder")
    p.add_argument("serial", nargs="?", metavar="SERIAL", help="serial number in hex")
    p.add_argument("--cert", metavar="FILE", help="the certificate (instead of SERIAL)")
    p.add_argument("--reason", required=True, metavar="REASON", help=f"one of: {REASONS}")
    p.add_argument("--at", metavar="ISO-8601", help="revocation time (default: now)")
    add_password_options(p)
    p.set_defaults(func=cmd_revoke)


def _register_show(sub: SubParsers) -> None:
    p = sub.add_parser("show", help="a readable summary of a certificate")
    p.add_argument("file", metavar="FILE", help="certificate, PEM or DER")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_show)


# -- commands ---------------------------------------------------------------------------------


Command: TypeAlias = Callable[[argparse.Namespace], int]


def _with_keys(command: Command) -> Command:
    """Run ``command`` with ``args.key_stack``: token sessions and vault keys opened for it
    close when it returns."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        with contextlib.ExitStack() as stack:
            args.key_stack = stack
            return command(args)

    return run


def _open_ca(folder: str, args: argparse.Namespace) -> CertificateAuthority:
    from esign.certs.authority import CertificateAuthority, folder_key_location

    location = folder_key_location(folder)
    if location is not None:
        from esign.cli.keyref import open_key

        key = open_key(location, args, args.key_stack)
        return CertificateAuthority.open_folder(folder, password=None, key=key)
    return CertificateAuthority.open_folder(
        folder, password=password_from(args, "CA key password: ")
    )


def _write_cert(path: str, certificate: Any, der: bool = False) -> None:
    write_file(path, certificate.public_bytes(Encoding.DER if der else Encoding.PEM))


def _qualified_settings(args: argparse.Namespace) -> QualifiedSettings | None:
    if not (args.pds or args.issuer_sign_tool or args.subject_sign_tool or args.ru_class):
        return None
    from esign.certs.profiles import IssuerSignTool, QualifiedSettings
    from esign.certs.qualified import POLICY_NAMES_REVERSE, QC_TYPE_NAMES, RU_CLASS_NAMES

    pds = []
    for item in args.pds or []:
        url, _, lang = item.partition(",")
        pds.append((url, lang or "en"))
    policy = args.eidas_policy or ("QCP-n" if args.no_qscd else "QCP-n-qscd")
    types = {v: k for k, v in QC_TYPE_NAMES.items()}
    return QualifiedSettings(
        pds=tuple(pds),
        qc_type=types[args.qc_type],
        qscd=not args.no_qscd,
        eidas_policies=(POLICY_NAMES_REVERSE[policy],),
        issuer_sign_tool=IssuerSignTool(*args.issuer_sign_tool) if args.issuer_sign_tool else None,
        subject_sign_tool=args.subject_sign_tool,
        ru_classes=tuple(RU_CLASS_NAMES[c] for c in args.ru_class or ["KC1"]),
    )


@_with_keys
def cmd_ca_init(args: argparse.Namespace) -> int:
    from esign.certs.authority import CertificateAuthority, folder_key_location

    key: Any = None
    if args.key:
        from esign.cli.keyref import PKCS11_SCHEME, VAULT_SCHEME, open_key

        if not args.key.startswith((PKCS11_SCHEME, VAULT_SCHEME)):
            raise UsageError("--key names a token or vault key (pkcs11:... or vault:FILE#NAME)")
        key = open_key(args.key, args, args.key_stack)
        password = None
    else:
        password = password_from(args, "new CA key password: ")
    parent = None
    if args.parent and (password is None or folder_key_location(args.parent)):
        parent = _open_ca(args.parent, args)
    elif args.parent:  # the parent's key password is the new key's, as before
        parent = CertificateAuthority.open_folder(args.parent, password=password)
    ca = CertificateAuthority.init_folder(
        args.out_dir,
        args.subject,
        password=password,
        key=key,
        key_location=args.key,
        algorithm=args.alg,
        days=args.days,
        parent=parent,
        path_length=args.path_length,
        crl_url=args.crl_url,
        delta_crl_url=args.delta_crl_url,
        ocsp_url=args.ocsp_url,
        ca_issuers_url=args.ca_issuers_url,
        qualified=_qualified_settings(args),
        registry=args.registry,
    )
    kind = "intermediate" if parent else "root"
    print(f"created {kind} CA {ca.certificate.subject.rfc4514_string()} in {args.out_dir}")
    return EXIT_VALID


def _subject_key(args: argparse.Namespace) -> tuple[bytes | None, Any]:
    if args.csr:
        return read_file(args.csr, limit=1 << 20), None
    from esign.certs.csr import parse_public_key

    return None, parse_public_key(read_file(args.public_key, limit=1 << 20))


@_with_keys
def cmd_issue(args: argparse.Namespace) -> int:
    csr, public_key = _subject_key(args)
    if csr is None and not args.subject:
        raise UsageError("--subject is required with --public-key")
    if args.path_length is not None and args.profile != "ca":
        raise UsageError(
            f"--path-length: a path length applies only to the ca profile, not {args.profile!r}"
        )
    ca = _open_ca(args.ca, args)
    if csr is not None:
        certificate = ca.issue_from_csr(
            csr,
            profile=args.profile,
            subject=args.subject,
            days=args.days,
            emails=args.email,
            uris=args.uri,
            path_length=args.path_length,
            subject_sign_tool=args.subject_sign_tool,
        )
    else:
        certificate = ca.issue(
            public_key,
            subject=args.subject,
            profile=args.profile,
            days=args.days,
            emails=args.email,
            uris=args.uri,
            path_length=args.path_length,
            subject_sign_tool=args.subject_sign_tool,
        )
    _write_cert(args.out, certificate, args.der)
    print(
        f"issued {certificate.subject.rfc4514_string()} serial {certificate.serial_number:x} "
        f"({args.profile}) -> {args.out}"
    )
    return EXIT_VALID


def _serial(args: argparse.Namespace) -> int:
    if (args.serial is None) == (args.cert is None):
        raise UsageError("give exactly one of SERIAL or --cert FILE")
    if args.cert:
        return int(certificate_from(args.cert).serial_number)
    text = args.serial.replace(":", "").lower().removeprefix("0x")
    try:
        return int(text, 16)
    except ValueError:
        raise UsageError(f"not a hexadecimal serial number: {args.serial!r}") from None


@_with_keys
def cmd_revoke(args: argparse.Namespace) -> int:
    serial = _serial(args)
    ca = _open_ca(args.ca, args)
    record = ca.revoke(serial, args.reason, at=parse_time(args.at))
    assert record.revoked_at is not None and record.reason is not None
    print(f"revoked serial {serial:x} ({record.reason.value}) at {record.revoked_at.isoformat()}")
    return EXIT_VALID


@_with_keys
def cmd_reissue(args: argparse.Namespace) -> int:
    serial = _serial(args)
    csr, public_key = _subject_key(args)
    if csr is not None:
        from esign.certs.csr import load_csr

        public_key = load_csr(csr).public_key
    ca = _open_ca(args.ca, args)
    certificate = ca.reissue(serial, public_key, reason=args.reason, days=args.days)
    _write_cert(args.out, certificate)
    print(
        f"revoked serial {serial:x} ({args.reason}); issued serial "
        f"{certificate.serial_number:x} -> {args.out}"
    )
    return EXIT_VALID


def cmd_show(args: argparse.Namespace) -> int:
    from esign.certs.summary import describe, render

    summary = describe(certificate_from(args.file))
    emit(summary, render(summary), args.json)
    return EXIT_VALID


@_with_keys
def cmd_crl(args: argparse.Namespace) -> int:
    if args.days <= 0:
        raise UsageError("--days must be positive")
    ca = _open_ca(args.ca, args)
    window = datetime.timedelta(days=args.days)
    crl = ca.delta_crl(next_update=window) if args.delta else ca.crl(next_update=window)
    write_file(args.out, crl.public_bytes(Encoding.DER if args.der else Encoding.PEM))
    number = crl.extensions.get_extension_for_class(x509.CRLNumber)
    print(
        f"wrote {'delta ' if args.delta else ''}CRL number {number.value.crl_number} "
        f"with {len(list(crl))} revoked -> {args.out}"
    )
    return EXIT_VALID


@_with_keys
def cmd_ocsp(args: argparse.Namespace) -> int:
    from esign.certs.revocation import load_ocsp_request

    request = read_file(args.request, limit=1 << 20)
    load_ocsp_request(request)  # a request it cannot answer: say why (exit 2), write nothing
    ca = _open_ca(args.ca, args)
    write_file(args.out, ca.ocsp_response(request))
    print(f"wrote OCSP response -> {args.out}")
    return EXIT_VALID


@_with_keys
def cmd_serve_ocsp(args: argparse.Namespace) -> int:
    import sys
    import threading

    from esign.certs.ocsp_server import OcspServer

    ca = _open_ca(args.ca, args)
    with OcspServer(ca, host=args.host, port=args.port) as server:
        print(f"OCSP responder for {ca.certificate.subject.rfc4514_string()} at {server.url}")
        sys.stdout.flush()
        threading.Event().wait()  # until Ctrl-C (KeyboardInterrupt: exit 130)
    return EXIT_VALID
