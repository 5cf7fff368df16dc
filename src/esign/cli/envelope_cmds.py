"""``esign seal`` and ``esign open``."""

from __future__ import annotations

import argparse
import sys

from esign.cli.common import (
    EXIT_INVALID,
    EXIT_VALID,
    add_password_options,
    add_trust_options,
    certificate_from,
    certificates_from,
    emit,
    load_private_key,
    parse_time,
    read_file,
    trust_from,
    write_file,
)
from esign.envelope.sealing import open_envelope, seal


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = subparsers.add_parser("seal", help="sign a file, then encrypt it to recipients")
    s.add_argument("file", metavar="FILE")
    s.add_argument("--key", required=True, metavar="FILE", help="signer private key")
    s.add_argument("--cert", required=True, metavar="FILE", help="signer certificate")
    s.add_argument(
        "--chain",
        action="extend",
        nargs="+",
        metavar="FILE",
        help="intermediate certificates to embed (repeatable)",
    )
    s.add_argument(
        "--to",
        action="extend",
        nargs="+",
        required=True,
        metavar="CERT",
        help="recipient certificate(s) (repeatable)",
    )
    s.add_argument("--out", required=True, metavar="FILE", help="envelope output (.p7m)")
    add_password_options(s)
    s.set_defaults(func=cmd_seal)

    o = subparsers.add_parser("open", help="decrypt an envelope, then verify its signature")
    o.add_argument("envelope", metavar="ENVELOPE")
    o.add_argument("--key", required=True, metavar="FILE", help="recipient private key")
    o.add_argument(
        "--cert",
        dest="recipient_cert",
        metavar="FILE",
        help="recipient certificate (finds the right record; optional)",
    )
    o.add_argument("--out", metavar="FILE", help="write the document here (only if valid)")
    add_password_options(o)
    add_trust_options(o, extra_certs=False)
    o.set_defaults(func=cmd_open)


def cmd_seal(args: argparse.Namespace) -> int:
    key = load_private_key(args.key, args)
    envelope = seal(
        read_file(args.file),
        signer=(key, certificate_from(args.cert)),
        recipients=certificates_from(args.to),
        chain=certificates_from(args.chain),
    )
    write_file(args.out, envelope)
    print(f"sealed {args.file} for {len(args.to)} recipient(s) -> {args.out}")
    return EXIT_VALID


def cmd_open(args: argparse.Namespace) -> int:
    key = load_private_key(args.key, args)
    recipient_cert = certificate_from(args.recipient_cert) if args.recipient_cert else None
    opened = open_envelope(
        read_file(args.envelope),
        recipient=(key, recipient_cert),
        trust=trust_from(args),
        at=parse_time(args.at),
    )
    report = opened.report
    if args.out and report.valid:
        write_file(args.out, opened.content)
    elif args.out:
        print(f"not writing {args.out}: the signature is not valid", file=sys.stderr)
    emit(report.to_dict(), str(report), args.json)
    return EXIT_VALID if report.valid else EXIT_INVALID
