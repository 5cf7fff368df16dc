"""``esign sign`` and ``esign verify``."""

from __future__ import annotations

import argparse

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
from esign.signing.sign import sign
from esign.signing.verify import verify


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("sign", help="sign a file (CMS SignedData, CAdES B-B attributes)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--key", required=True, metavar="FILE", help="signer private key (PEM/DER)")
    p.add_argument("--cert", required=True, metavar="FILE", help="signer certificate")
    p.add_argument(
        "--chain",
        action="extend",
        nargs="+",
        metavar="FILE",
        help="intermediate certificates to embed (repeatable)",
    )
    p.add_argument("--detached", action="store_true", help="do not embed the file")
    p.add_argument("--pem", action="store_true", help="write PEM instead of DER")
    p.add_argument("--out", required=True, metavar="FILE", help="signature output (.p7s)")
    add_password_options(p)
    p.set_defaults(func=cmd_sign)

    v = subparsers.add_parser("verify", help="verify a CMS signature into a report")
    v.add_argument("signature", metavar="SIGNATURE", help="CMS signature, DER or PEM")
    v.add_argument("--data", metavar="FILE", help="the signed file (detached signatures)")
    add_trust_options(v)
    v.set_defaults(func=cmd_verify)


def cmd_sign(args: argparse.Namespace) -> int:
    key = load_private_key(args.key, args)
    certificate = certificate_from(args.cert)
    with open(args.file, "rb") as handle:
        der = sign(
            handle,
            signer=(key, certificate),
            chain=certificates_from(args.chain),
            detached=args.detached,
        )
    if args.pem:
        import base64

        body = base64.encodebytes(der).replace(b"\n", b"")
        lines = [body[i : i + 64] for i in range(0, len(body), 64)]
        der = b"-----BEGIN CMS-----\n" + b"\n".join(lines) + b"\n-----END CMS-----\n"
    write_file(args.out, der)
    print(f"signed {args.file} -> {args.out} ({'detached' if args.detached else 'attached'})")
    return EXIT_VALID


def cmd_verify(args: argparse.Namespace) -> int:
    signature = read_file(args.signature)
    trust = trust_from(args)
    if args.data:
        with open(args.data, "rb") as handle:
            report = verify(
                signature,
                handle,
                trust=trust,
                at=parse_time(args.at),
                certificates=certificates_from(args.certs),
            )
    else:
        report = verify(
            signature,
            None,
            trust=trust,
            at=parse_time(args.at),
            certificates=certificates_from(args.certs),
        )
    emit(report.to_dict(), str(report), args.json)
    return EXIT_VALID if report.valid else EXIT_INVALID
