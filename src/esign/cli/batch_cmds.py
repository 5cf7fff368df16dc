"""``esign batch verify|open``: many items on every core or a Dask cluster, one JSON line each."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from esign.cli.common import (
    EXIT_INVALID,
    EXIT_UNPROCESSABLE,
    EXIT_VALID,
    add_password_options,
    add_revocation_options,
    certificate_from,
    certificates_from,
    load_private_key,
    parse_time,
    read_file,
)

if TYPE_CHECKING:  # the batch engine is imported only when a batch command runs
    from esign.batch import BatchItem, BatchSummary, TrustSpec


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    batch = subparsers.add_parser(
        "batch", help="verify signatures or open envelopes in bulk (all cores, or Dask)"
    )
    commands = batch.add_subparsers(dest="batch_command", required=True)
    v = commands.add_parser("verify", help="verify many signatures; one JSON line per item")
    _common(v, "signature files, folders or globs (X.p7s is paired with X as its data)")
    v.set_defaults(func=cmd_batch_verify)
    o = commands.add_parser("open", help="open many envelopes addressed to one key")
    _common(o, "envelope files, folders or globs")
    o.add_argument("--key", required=True, metavar="FILE", help="the recipient's private key")
    o.add_argument("--recipient-cert", metavar="FILE", help="the recipient's certificate")
    o.add_argument(
        "--out-dir", required=True, metavar="DIR", help="where contents are written (valid only)"
    )
    add_password_options(o)
    o.set_defaults(func=cmd_batch_open)


def _common(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("paths", nargs="*", metavar="PATH", help=what)
    p.add_argument("--manifest", metavar="FILE", help="one item per line: PATH[<TAB>DATA]")
    p.add_argument("--trust", action="extend", nargs="+", required=True, metavar="FILE",
                   help="trust anchor certificate(s) (repeatable)")  # fmt: skip
    p.add_argument("--crl", action="extend", nargs="+", metavar="FILE", help="CRL(s)")
    p.add_argument("--cert", dest="certs", action="extend", nargs="+", metavar="FILE",
                   help="intermediate certificates (repeatable)")  # fmt: skip
    add_revocation_options(p)  # --ocsp, --no-revocation-check, --fetch, as for esign verify
    p.add_argument("--legacy-algorithms", action="store_true", help="accept SHA-1, RSA < 2048")
    p.add_argument("--at", metavar="ISO-8601", help="validate at this time (default: now)")
    p.add_argument("--jurisdiction", choices=("eidas", "ru"), default="eidas")
    p.add_argument("--out", required=True, metavar="RESULTS.jsonl", help="results, appended")
    p.add_argument("--workers", type=int, metavar="N", help="local processes (default: cores)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler, tcp://HOST:PORT")
    p.add_argument("--chunk-size", type=int, metavar="N", help="items per task (default: auto)")
    p.add_argument("--restart", action="store_true", help="start over instead of resuming")
    p.add_argument("--no-parquet", action="store_true", help="do not also write Parquet")


def _trust(args: argparse.Namespace) -> TrustSpec:
    """The trust options as a :class:`TrustSpec` (what ``esign verify`` builds, as bytes)."""
    from esign.batch import TrustSpec
    from esign.certs.revinfo import parse_crl, parse_ocsp_response

    spec = TrustSpec.of(
        certificates_from(args.trust),
        intermediates=certificates_from(args.certs),
        crls=[parse_crl(read_file(p)).dump() for p in args.crl or []],
        ocsps=[parse_ocsp_response(read_file(p)).dump() for p in args.ocsp or []],
        legacy_algorithms=args.legacy_algorithms,
        check_revocation=args.check_revocation,
        allow_fetching=args.fetch,
        fetch_timeout=args.fetch_timeout,
        name=args.domain,
    )
    spec.build()  # bad trust input fails here, once, not in every worker
    return spec


def _items(args: argparse.Namespace, suffixes: tuple[str, ...]) -> list[BatchItem]:
    from esign.batch import collect_items
    from esign.errors import EsignError

    if not args.paths and not args.manifest:
        raise EsignError("give PATH... or --manifest FILE")
    if args.workers is not None and args.workers < 1:
        raise EsignError("--workers must be at least 1")
    return list(collect_items(args.paths, manifest=args.manifest, suffixes=suffixes))


def _options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "out": args.out,
        "at": parse_time(args.at),
        "jurisdiction": args.jurisdiction,
        "workers": args.workers,
        "scheduler": args.scheduler,
        "chunk_size": args.chunk_size,
        "resume": not args.restart,
        "parquet": not args.no_parquet,
    }


def _report(summary: BatchSummary) -> int:
    print(
        f"{summary.total} items: {summary.valid} valid, {summary.not_valid} not valid,"
        f" {summary.failed} could not be processed, {summary.skipped} already done;"
        f" {summary.seconds:.1f} s ({summary.rate:,.0f} items/s, {summary.engine})"
        f" -> {summary.out}" + (f", {summary.parquet}" if summary.parquet else ""),
        file=sys.stderr,
    )
    if summary.failed:
        return EXIT_INVALID if summary.valid or summary.not_valid else EXIT_UNPROCESSABLE
    return EXIT_INVALID if summary.not_valid else EXIT_VALID


def cmd_batch_verify(args: argparse.Namespace) -> int:
    from esign.batch import verify_many
    from esign.batch.items import SIGNATURE_SUFFIXES

    items = _items(args, SIGNATURE_SUFFIXES)
    summary = verify_many(items, trust=_trust(args), **_options(args))
    return _report(summary)


def cmd_batch_open(args: argparse.Namespace) -> int:
    from esign.batch import open_many
    from esign.batch.items import ENVELOPE_SUFFIXES

    items = _items(args, ENVELOPE_SUFFIXES)
    key = load_private_key(args.key, args)
    cert = certificate_from(args.recipient_cert) if args.recipient_cert else None
    summary = open_many(
        items, key=key, cert=cert, trust=_trust(args), out_dir=args.out_dir, **_options(args)
    )
    return _report(summary)
