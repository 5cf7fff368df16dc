"""``esign csr create``: a PKCS#10 certification request for a key wherever it lives.

The key is named as everywhere else (a file, a ``pkcs11:`` URI, ``vault:FILE#NAME``);
a token or vault key signs the request where it is, so the private key never moves.
"""

from __future__ import annotations

import argparse
import contextlib

from esign.cli.common import EXIT_VALID, add_password_options, write_file


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    csr = subparsers.add_parser("csr", help="make certification requests (PKCS#10)")
    sub = csr.add_subparsers(dest="csr_command", required=True, parser_class=type(csr))
    p = sub.add_parser(
        "create",
        help="a PKCS#10 request signed by the key (proof of possession) for a CA",
        epilog='example: esign csr create --key ivanov.key.pem --subject "CN=Ivan Ivanov,C=RU" '
        "--email ivanov@example.org --out ivanov.csr  (then: esign cert issue --csr ivanov.csr)",
    )
    p.add_argument(
        "--key",
        required=True,
        metavar="KEY",
        help="the key to certify: a file (PEM/DER/PKCS#12), a pkcs11: URI or vault:FILE#NAME",
    )
    p.add_argument("--subject", required=True, metavar="DN", help='e.g. "CN=Ivan Ivanov,C=RU"')
    p.add_argument("--email", action="append", default=[], help="e-mail SAN (repeatable)")
    p.add_argument("--dns", action="append", default=[], help="DNS name SAN (repeatable)")
    p.add_argument("--uri", action="append", default=[], help="URI SAN (repeatable)")
    p.add_argument("--der", action="store_true", help="write DER instead of PEM")
    p.add_argument("--out", required=True, metavar="FILE", help="request output (.csr)")
    add_password_options(p)
    p.set_defaults(func=cmd_csr_create)


def cmd_csr_create(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives.serialization import Encoding

    from esign.certs.csr import create_csr
    from esign.cli.keyref import open_key

    with contextlib.ExitStack() as keys:
        key = open_key(args.key, args, keys)
        request = create_csr(
            key, args.subject, emails=args.email, dns_names=args.dns, uris=args.uri
        )
    write_file(args.out, request.public_bytes(Encoding.DER if args.der else Encoding.PEM))
    print(f"wrote request for {request.subject.rfc4514_string()} -> {args.out}")
    return EXIT_VALID
