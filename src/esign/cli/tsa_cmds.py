"""``esign tsa serve``: an RFC 3161 time-stamp server over HTTP, with the TSA's own policy.

A real TSA publishes a practice statement under a policy OID and must write that OID into
every token (RFC 3161 §2.4.2), so ``--policy`` is how the operator names it.
"""

from __future__ import annotations

import argparse
import re

from esign.cli.common import (
    EXIT_VALID,
    add_password_options,
    certificate_from,
    certificates_from,
    load_private_key,
)


def object_identifier(text: str) -> str:
    """An argparse type: a dotted OID (else exit 2 with a usage message)."""
    if not re.fullmatch(r"[0-2](\.(0|[1-9][0-9]*))+", text):
        raise argparse.ArgumentTypeError(f"not an object identifier: {text!r}")
    return text


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tsa = subparsers.add_parser("tsa", help="run an RFC 3161 time-stamp authority")
    sub = tsa.add_subparsers(dest="tsa_command", required=True, parser_class=type(tsa))
    p = sub.add_parser(
        "serve",
        help="answer time-stamp queries over HTTP until interrupted",
        epilog="example: esign tsa serve --key tsa.key --cert tsa.pem "
        "--policy 1.2.3.4.1 --port 3161",
    )
    p.add_argument("--key", required=True, metavar="FILE", help="TSA private key (PEM/DER)")
    p.add_argument("--cert", required=True, metavar="FILE", help="TSA certificate (timeStamping)")
    p.add_argument("--chain", action="extend", nargs="+", metavar="FILE", help="CA certificates")
    p.add_argument(
        "--policy",
        type=object_identifier,
        metavar="OID",
        help="the TSA policy OID put in every token (default: ETSI baseline 0.4.0.2023.1.1)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--port", type=int, default=3161, help="port (0: any free port)")
    add_password_options(p)
    p.set_defaults(func=cmd_tsa_serve)


def cmd_tsa_serve(args: argparse.Namespace) -> int:
    import sys
    import threading

    from esign.signing.timestamps import BASELINE_TSA_POLICY, TimeStampAuthority

    authority = TimeStampAuthority(
        load_private_key(args.key, args),
        certificate_from(args.cert),
        chain=certificates_from(args.chain),
        policy=args.policy or BASELINE_TSA_POLICY,
    )
    with authority.serve(args.host, args.port) as server:
        print(f"time-stamp authority (policy {authority.policy}) at {server.url}")
        sys.stdout.flush()
        threading.Event().wait()  # until Ctrl-C (KeyboardInterrupt: exit 130)
    return EXIT_VALID
