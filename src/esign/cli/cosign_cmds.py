"""``esign cosign`` and ``esign countersign``: more signers on an existing CMS signature.

``cosign`` adds a parallel signer over the same document (two directors sign one
contract); ``countersign`` signs one signer's signature value (RFC 5652 §11.4: a notary
attests that signature). The signers already there stay byte for byte as they were.
"""

from __future__ import annotations

import argparse
import contextlib
from typing import Any

from esign.cli.common import (
    EXIT_VALID,
    UsageError,
    add_password_options,
    add_signer_options,
    certificate_from,
    certificates_from,
    read_file,
    write_file,
)


def _signer_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("signature", metavar="SIGNATURE", help="the CMS signature (DER or PEM)")
    add_signer_options(p, "the new signer's")
    p.add_argument("--pem", action="store_true", help="write PEM instead of DER")
    p.add_argument("--out", required=True, metavar="FILE", help="the signature with both")
    add_password_options(p)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    c = subparsers.add_parser(
        "cosign",
        help="add a parallel signer to an existing signature (same document, own key)",
        epilog="example: esign cosign contract.p7s --data contract.pdf --key petrov.key.pem "
        "--cert petrov.pem --out contract.2.p7s",
    )
    _signer_options(c)
    c.add_argument("--data", metavar="FILE", help="the signed file (detached signatures)")
    c.add_argument("--tsa", metavar="URL", help="time-stamp the new signature at this RFC 3161 TSA")
    c.set_defaults(func=cmd_cosign)

    k = subparsers.add_parser(
        "countersign",
        help="counter-sign a signer of an existing signature (RFC 5652 countersignature)",
        epilog="example: esign countersign return.p7s --key notary.key.pem --cert notary.pem "
        "--out return.notarised.p7s",
    )
    _signer_options(k)
    k.add_argument(
        "--target",
        metavar="CERT",
        help="the certificate of the signer to counter-sign (needed when there are several)",
    )
    k.set_defaults(func=cmd_countersign)


def _write(args: argparse.Namespace, der: bytes) -> None:
    if args.pem:
        from esign.cli.signing_cmds import pem_cms

        der = pem_cms(der)
    write_file(args.out, der)


def cmd_cosign(args: argparse.Namespace) -> int:
    from esign.cli.keyref import open_key
    from esign.signing.sign import add_signer

    signature = read_file(args.signature)
    timestamper: Any = None
    if args.tsa:
        from esign.signing.timestamps import HttpTimeStamper

        try:
            timestamper = HttpTimeStamper(args.tsa)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    with contextlib.ExitStack() as stack:
        key = open_key(args.key, args, stack)
        data = stack.enter_context(open(args.data, "rb")) if args.data else None
        out = add_signer(
            signature,
            data,
            signer=(key, certificate_from(args.cert)),
            chain=certificates_from(args.chain),
            timestamper=timestamper,
        )
    _write(args, out)
    print(f"added a signer to {args.signature} -> {args.out}")
    return EXIT_VALID


def cmd_countersign(args: argparse.Namespace) -> int:
    from esign.cli.keyref import open_key
    from esign.signing.sign import countersign

    signature = read_file(args.signature)
    target = certificate_from(args.target) if args.target else None
    with contextlib.ExitStack() as stack:
        key = open_key(args.key, args, stack)
        out = countersign(
            signature,
            signer=(key, certificate_from(args.cert)),
            chain=certificates_from(args.chain),
            target=target,
        )
    _write(args, out)
    print(f"counter-signed {args.signature} -> {args.out}")
    return EXIT_VALID
