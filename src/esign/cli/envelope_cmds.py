"""``esign seal`` and ``esign open``: streamed, so files of any size use bounded memory."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from esign.cli.common import (
    EXIT_INVALID,
    EXIT_VALID,
    UsageError,
    add_level_options,
    add_password_options,
    add_signer_options,
    add_trust_options,
    certificate_from,
    certificates_from,
    emit,
    parse_time,
    read_file,
    trust_from,
    trusted_lists_from,
)

if TYPE_CHECKING:  # the envelope code is imported by the command that runs
    from esign.envelope.recipients import Identity, Recipient

ENVELOPE_PASSWORD_ENV = "ESIGN_ENVELOPE_PASSWORD"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = subparsers.add_parser("seal", help="sign a file, then encrypt it to recipients")
    s.add_argument("file", metavar="FILE")
    add_signer_options(s)
    s.add_argument(
        "--to",
        action="extend",
        nargs="+",
        metavar="CERT",
        help="recipient certificate(s): RSA, EC P-256/P-384, X25519, ML-KEM (repeatable)",
    )
    s.add_argument(
        "--to-password",
        action="store_true",
        help="also seal for a password (from --envelope-password-file, "
        f"${ENVELOPE_PASSWORD_ENV} or a prompt)",
    )
    s.add_argument(
        "--cipher",
        choices=["aes-256-gcm", "aes-256-cbc"],
        default="aes-256-gcm",
        help="content encryption: AuthEnvelopedData AES-256-GCM (default) or "
        "EnvelopedData AES-256-CBC for older peers",
    )
    s.add_argument("--out", required=True, metavar="FILE", help="envelope output (.p7m)")
    add_password_options(s)
    _add_envelope_password_option(s)
    s.set_defaults(func=cmd_seal)

    o = subparsers.add_parser(
        "open",
        help="decrypt an envelope, then verify its signature",
        epilog="example: esign open return.p7m --key tax-service.key.pem --cert tax-service.pem "
        "--trust ca.pem --crl ca.crl --out return.txt",
    )
    o.add_argument("envelope", metavar="ENVELOPE")
    o.add_argument(
        "--key",
        metavar="KEY",
        help="recipient private key: a FILE, a pkcs11: URI (RFC 7512) or vault:FILE#NAME",
    )
    o.add_argument(
        "--cert",
        dest="recipient_cert",
        metavar="FILE",
        help="recipient certificate (finds the right record; optional)",
    )
    o.add_argument(
        "--with-password",
        action="store_true",
        help="open a password record instead of using a key",
    )
    o.add_argument(
        "--legacy-pkcs1v15",
        action="store_true",
        help="also open RSA PKCS#1 v1.5 key transport (gpgsm, old archives); off by default: "
        "that padding is an oracle risk",
    )
    o.add_argument(
        "--out",
        metavar="FILE",
        help="write the document here, only if valid ('-': stdout, the report then on "
        "stderr); without --out the envelope is only checked",
    )
    add_password_options(o)
    _add_envelope_password_option(o)
    add_trust_options(o, extra_certs=False)
    add_level_options(o)
    o.set_defaults(func=cmd_open)


def _add_envelope_password_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--envelope-password-file",
        metavar="FILE",
        help=f"the envelope password (first line); else ${ENVELOPE_PASSWORD_ENV} or a prompt",
    )


def envelope_password(args: argparse.Namespace) -> bytes:
    """The password of a password recipient: file, environment, or a terminal prompt."""
    if args.envelope_password_file:
        lines = read_file(args.envelope_password_file, limit=4096).splitlines()
        password = lines[0] if lines else b""
    elif os.environ.get(ENVELOPE_PASSWORD_ENV) is not None:
        password = os.environ[ENVELOPE_PASSWORD_ENV].encode("utf-8")
    elif sys.stdin is not None and sys.stdin.isatty():
        password = getpass.getpass("envelope password: ").encode("utf-8")
    else:
        raise UsageError(
            "an envelope password is needed: give --envelope-password-file, "
            f"set {ENVELOPE_PASSWORD_ENV}, or run on a terminal"
        )
    if not password:
        raise UsageError("the envelope password is empty")
    return password


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[tuple[BinaryIO, Callable[[], None]]]:
    """A temporary file next to ``path``; ``commit()`` renames it into place.

    Without ``commit`` (an error, or a signature that is not valid) nothing is left behind.
    Without a path, a sink that discards what it is given. ``-`` is standard output: the
    document is spooled to an anonymous temporary file and copied out on ``commit``, so
    nothing reaches the pipe before the signature verified.
    """
    import tempfile

    if path is None:
        with open(os.devnull, "wb") as sink:
            yield sink, lambda: None
        return
    if path == "-":
        with tempfile.TemporaryFile(prefix=".esign-") as spool:

            def copy_out() -> None:
                import shutil

                spool.seek(0)
                shutil.copyfileobj(spool, sys.stdout.buffer)
                sys.stdout.buffer.flush()

            yield spool, copy_out
        return

    target = Path(path)
    try:
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed by commit or finally
            dir=target.parent if str(target.parent) else ".", prefix=".esign-", delete=False
        )
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc
    committed = False

    def commit() -> None:
        nonlocal committed
        handle.close()
        os.replace(handle.name, target)
        committed = True

    try:
        with handle:
            yield handle, commit  # type: ignore[misc]
    finally:
        if not committed:
            with contextlib.suppress(OSError):
                os.unlink(handle.name)


def _open_input(path: str) -> BinaryIO:
    try:
        return open(path, "rb")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc


def cmd_seal(args: argparse.Namespace) -> int:
    if not args.to and not args.to_password:
        raise UsageError("give at least one recipient: --to CERT or --to-password")
    from esign.cli.keyref import open_key

    with contextlib.ExitStack() as keys:
        return _seal(args, open_key(args.key, args, keys))


def _seal(args: argparse.Namespace, key: Any) -> int:
    from esign.envelope.recipients import PasswordRecipient, recipient_for
    from esign.envelope.writer import seal_stream
    from esign.progress import byte_progress

    recipients: list[Recipient] = [recipient_for(c) for c in certificates_from(args.to)]
    if args.to_password:
        recipients.append(PasswordRecipient(envelope_password(args)))
    signer = (key, certificate_from(args.cert))
    chain = certificates_from(args.chain)
    with _open_input(args.file) as src, _output(args.out) as (dst, commit):
        size = os.fstat(src.fileno()).st_size
        seal_stream(
            src,
            dst,
            signer=signer,
            recipients=recipients,
            chain=chain,
            cipher=args.cipher,
            progress=byte_progress(size, "sealing"),
        )
        commit()
    print(f"sealed {args.file} for {len(recipients)} recipient(s) -> {args.out}")
    return EXIT_VALID


def cmd_open(args: argparse.Namespace) -> int:
    from esign.cli.keyref import open_key
    from esign.envelope.recipients import PasswordIdentity, identity_for

    with contextlib.ExitStack() as keys:
        identity: Identity
        if args.key:
            cert = certificate_from(args.recipient_cert) if args.recipient_cert else None
            key = open_key(args.key, args, keys)
            identity = identity_for(key, cert, legacy_pkcs1v15=args.legacy_pkcs1v15)
        elif args.with_password:
            identity = PasswordIdentity(envelope_password(args))
        else:
            raise UsageError("give --key KEY (a recipient key) or --with-password")
        return _open(args, identity)


def _open(args: argparse.Namespace, identity: Identity) -> int:
    from esign.envelope.reader import open_stream
    from esign.progress import byte_progress

    trust = trust_from(args)
    with _open_input(args.envelope) as src, _output(args.out) as (dst, commit):
        size = os.fstat(src.fileno()).st_size
        opened = open_stream(
            src,
            dst,
            recipient=identity,
            trust=trust,
            at=parse_time(args.at),
            progress=byte_progress(size, "opening"),
            trusted_lists=trusted_lists_from(args),
            jurisdiction=args.jurisdiction,
        )
        report = opened.report
        payload = report.to_dict()
        payload["intended_recipients"] = opened.intended_recipients
        text = str(report)
        if opened.intended_recipients:
            text += "\nsealed by the signer for: " + "; ".join(opened.intended_recipients)
        if args.out == "-":  # the document owns stdout; the report goes to stderr
            print(json.dumps(payload, indent=2) if args.json else text, file=sys.stderr)
        else:
            emit(payload, text, args.json)
        if args.out and report.valid:
            commit()
        elif args.out:
            where = "stdout" if args.out == "-" else args.out
            print(f"esign: not writing {where}: the signature is not valid", file=sys.stderr)
        else:
            print(
                "esign: note: the document was checked, not written "
                "(give --out FILE, or --out - for stdout)",
                file=sys.stderr,
            )
    return EXIT_VALID if report.valid else EXIT_INVALID
