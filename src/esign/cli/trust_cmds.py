"""``esign cert verify``: validate a certificate path in a trust domain.

The ``cert`` command group belongs to the CA commands; this module adds its ``verify``
subcommand through :func:`add_cert_verify`. :func:`register` makes a ``cert`` group with
``verify`` only, until the two are merged.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from esign.cli.common import (
    EXIT_INVALID,
    EXIT_VALID,
    add_trust_options,
    certificate_from,
    certificates_from,
    emit,
    parse_time,
    trust_from,
)

if TYPE_CHECKING:  # the trust code is imported by the command that runs
    from esign.certs.trust import PathResult, TrustContext


def add_cert_verify(cert_subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``verify`` to the ``esign cert`` subcommands."""
    v = cert_subparsers.add_parser(
        "verify",
        help="validate a certificate's path to the trust anchors (with revocation)",
        description=(
            "Exit 0 if the certificate is trusted at the given time, 1 if it is not "
            "(untrusted, expired, revoked, wrong usage, ...), 2 if the input cannot be read."
        ),
    )
    v.add_argument("certificate", metavar="CERT", help="the certificate, PEM or DER")
    add_trust_options(v)
    v.add_argument(
        "--usage",
        choices=("signing", "encryption", "any"),
        default="signing",
        help="what the certificate must be good for (default: signing)",
    )
    v.add_argument(
        "--trusted-list",
        action="extend",
        nargs="+",
        metavar="FILE",
        help="trusted list(s) of qualified issuers: ETSI TS 119 612 XML, esign JSON or PEM",
    )
    v.add_argument(
        "--trusted-list-signer",
        action="extend",
        nargs="+",
        metavar="CERT",
        help="certificate(s) of the scheme operator that signs an ETSI trusted list",
    )
    v.set_defaults(func=cmd_cert_verify)


def _context(args: argparse.Namespace) -> TrustContext:
    from esign.certs.trusted_list import load_trusted_list

    context = trust_from(args)
    signers = certificates_from(args.trusted_list_signer)
    for path in args.trusted_list or []:
        context.trusted_lists.append(
            load_trusted_list(path, signer_certificates=signers, verify_signature=True)
        )
    return context


def _text(result: PathResult) -> str:
    lines = []
    if result.trusted:
        lines.append(f"valid: trusted in domain {result.domain!r}")
    else:
        lines.append(f"not valid in domain {result.domain!r}")
    if result.validated_at is not None:
        lines.append(f"  at:      {result.validated_at.isoformat()}")
    for index, certificate in enumerate(result.chain):
        role = "subject" if index == 0 else "issuer "
        lines.append(f"  {role}: {certificate.subject.rfc4514_string()}")
    if result.trusted_list:
        lines.append(f"  issuer on trusted list: {result.trusted_list}")
    if result.revoked_at is not None:
        lines.append(f"  revoked: {result.revoked_at.isoformat()} ({result.revocation_reason})")
    for failure in result.failures:
        lines.append(f"  error [{failure.code}]: {failure.message}")
    return "\n".join(lines)


def cmd_cert_verify(args: argparse.Namespace) -> int:
    certificate = certificate_from(args.certificate)
    context = _context(args)
    result = context.validate(certificate, at=parse_time(args.at), usage=args.usage)
    emit(result.to_dict(), _text(result), args.json)
    return EXIT_VALID if result.trusted else EXIT_INVALID
