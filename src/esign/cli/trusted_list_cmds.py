"""``esign trusted-list create``: publish the qualified issuers of a scheme.

A supervisory body (or a closed system's operator) lists the CAs whose certificates are
qualified; verifiers then give the file to ``esign verify --trusted-list``. ETSI TS 119
612 XML is signed (XAdES) by the scheme operator, whose certificate verifiers give as
``--trusted-list-signer``; esign's JSON form is for closed systems that protect the file
some other way.
"""

from __future__ import annotations

import argparse
import contextlib
from typing import TYPE_CHECKING, Any

from esign.cli.common import (
    EXIT_VALID,
    UsageError,
    add_password_options,
    certificate_from,
    certificates_from,
    jurisdiction_choices,
    parse_time,
    write_file,
)

if TYPE_CHECKING:
    from cryptography import x509


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = subparsers.add_parser("trusted-list", help="produce trusted lists of qualified CAs")
    sub = group.add_subparsers(dest="tl_command", required=True, parser_class=type(group))
    p = sub.add_parser(
        "create",
        help="a trusted list (ETSI TS 119 612 XML, signed; or esign JSON) of qualified CAs",
        epilog="example: esign trusted-list create --qualified-issuer qca/ca.pem "
        '--scheme-operator "Supervisory Body" --sign-key operator.key.pem '
        "--sign-cert operator.pem --out tl.xml  "
        "(then: esign verify ... --trusted-list tl.xml --trusted-list-signer operator.pem)",
    )
    p.add_argument(
        "--qualified-issuer",
        action="extend",
        nargs="+",
        required=True,
        metavar="CERT",
        help="certificate(s) of the qualified issuing CAs to list (repeatable)",
    )
    p.add_argument(
        "--jurisdiction",
        choices=jurisdiction_choices(),
        metavar="NAME",
        default="eidas",
        help="%(choices)s (default eidas)",
    )
    p.add_argument("--name", default="", help="the list's name (default: from the jurisdiction)")
    p.add_argument("--territory", metavar="CC", help="scheme territory (default EU, or RU)")
    p.add_argument(
        "--valid-from",
        metavar="ISO-8601",
        help="the listed CAs' qualified status starts here (default: no start)",
    )
    p.add_argument("--format", choices=("xml", "json"), default="xml", help="default xml")
    p.add_argument(
        "--scheme-operator",
        metavar="NAME",
        help="the scheme operator that publishes the list (xml; default: the signer's CN)",
    )
    p.add_argument("--sequence-number", type=int, default=1, metavar="N", help="xml: default 1")
    p.add_argument("--sign-key", metavar="KEY", help="the scheme operator's key (file, EC/RSA)")
    p.add_argument("--sign-cert", metavar="CERT", help="the scheme operator's certificate")
    p.add_argument(
        "--unsigned",
        action="store_true",
        help="xml without a signature (readers must be told to accept it)",
    )
    p.add_argument("--out", required=True, metavar="FILE", help="the trusted list")
    add_password_options(p)
    p.set_defaults(func=cmd_trusted_list_create)


def cmd_trusted_list_create(args: argparse.Namespace) -> int:
    from esign.certs.trusted_list import ListedIssuer, TrustedList

    signing = args.sign_key is not None or args.sign_cert is not None
    if signing and (args.sign_key is None or args.sign_cert is None):
        raise UsageError("give both --sign-key and --sign-cert")
    if args.format == "json" and (signing or args.unsigned):
        raise UsageError("JSON lists are not signed: --sign-key/--unsigned are for --format xml")
    if args.format == "xml" and signing == args.unsigned:
        raise UsageError("an xml list is signed: give --sign-key and --sign-cert (or --unsigned)")
    if args.sequence_number < 1:
        raise UsageError("--sequence-number must be at least 1")
    start = parse_time(args.valid_from)
    entries = [
        ListedIssuer(c, service_name=c.subject.rfc4514_string(), valid_from=start)
        for c in certificates_from(args.qualified_issuer)
    ]
    name = args.name or f"{args.jurisdiction}: qualified issuers"
    trusted = TrustedList(args.jurisdiction, name=name, territory=args.territory, entries=entries)
    if args.format == "json":
        out = trusted.to_json().encode("utf-8") + b"\n"
    else:
        with contextlib.ExitStack() as stack:
            sign_with = None
            operator = args.scheme_operator
            if signing:
                sign_with = _scheme_signer(args, stack)
                operator = operator or _common_name(sign_with[1])
            if not operator:
                raise UsageError("name the --scheme-operator of an unsigned list")
            out = trusted.to_etsi_xml(
                scheme_operator=operator,
                territory=args.territory,
                sequence_number=args.sequence_number,
                sign_with=sign_with,
            )
    write_file(args.out, out)
    print(
        f"wrote {args.format} trusted list {name!r} with {len(entries)} issuer(s)"
        f"{' (signed)' if signing else ''} -> {args.out}"
    )
    return EXIT_VALID


def _scheme_signer(
    args: argparse.Namespace, stack: contextlib.ExitStack[bool | None]
) -> tuple[Any, x509.Certificate]:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    from esign.cli.keyref import open_key

    key = open_key(args.sign_key, args, stack)
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise UsageError("a trusted list is signed (XAdES) with an EC or RSA key file")
    certificate = certificate_from(args.sign_cert)
    if certificate.public_key() != key.public_key():
        raise UsageError("--sign-key does not belong to --sign-cert")
    return key, certificate


def _common_name(certificate: x509.Certificate) -> str:
    from cryptography import x509

    names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else certificate.subject.rfc4514_string()
