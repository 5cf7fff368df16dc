"""``esign sign`` and ``esign verify``."""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import sys
from typing import Any

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
    write_file,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "sign",
        help="sign a file (CMS SignedData, CAdES B-B attributes); detached unless --attached",
        epilog="example: esign sign return.txt --key ivanov.key.pem --cert ivanov.pem "
        "--out return.p7s",
    )
    p.add_argument("file", metavar="FILE")
    add_signer_options(p)
    shape = p.add_mutually_exclusive_group()
    shape.add_argument("--attached", action="store_true", help="embed the file in the signature")
    shape.add_argument(
        "--detached",
        action="store_true",
        help="do not embed the file (the default, as in the library and openssl cms -sign)",
    )
    p.add_argument("--pem", action="store_true", help="write PEM instead of DER")
    p.add_argument(
        "--smime",
        action="store_true",
        help="write an S/MIME message (multipart/signed, or pkcs7-mime with --attached); "
        "FILE is then a MIME entity, or plain text",
    )
    p.add_argument("--tsa", metavar="URL", help="time-stamp the signature at this RFC 3161 TSA")
    p.add_argument(
        "--pdf", action="store_true", help="FILE is a PDF: sign it in place (PAdES), out is a PDF"
    )
    p.add_argument("--out", required=True, metavar="FILE", help="signature output (.p7s)")
    add_password_options(p)
    p.set_defaults(func=cmd_sign)

    v = subparsers.add_parser(
        "verify",
        help="verify a CMS signature into a report",
        epilog="example: esign verify return.p7s --data return.txt --trust ca.pem --crl ca.crl",
    )
    v.add_argument("signature", metavar="SIGNATURE", help="CMS signature: DER, PEM or S/MIME")
    v.add_argument("--data", metavar="FILE", help="the signed file (detached signatures)")
    v.add_argument(
        "--out",
        metavar="FILE",
        help="write the signed content of an attached signature here once it verified "
        "('-': stdout; the report then goes to stderr)",
    )
    add_trust_options(v)
    add_level_options(v)
    v.add_argument(
        "--tsa-trust",
        action="extend",
        nargs="+",
        metavar="FILE",
        help="anchors for time-stamp authorities (default: the --trust anchors)",
    )
    v.set_defaults(func=cmd_verify)


def pem_cms(der: bytes) -> bytes:
    """DER CMS as PEM (the ``CMS`` label openssl writes)."""
    body = base64.encodebytes(der).replace(b"\n", b"")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return b"-----BEGIN CMS-----\n" + b"\n".join(lines) + b"\n-----END CMS-----\n"


def cmd_sign(args: argparse.Namespace) -> int:
    from esign.cli.keyref import open_key

    if args.pdf and args.attached:
        raise UsageError("--attached does not apply to --pdf (the signature is inside the PDF)")
    with contextlib.ExitStack() as keys:
        return _sign(args, open_key(args.key, args, keys))


def _sign(args: argparse.Namespace, key: Any) -> int:
    detached = not args.attached
    certificate = certificate_from(args.cert)
    chain = certificates_from(args.chain)
    timestamper: Any = None
    if args.tsa:  # the TSA client (pyHanko's, over aiohttp) only when asked for
        from esign.signing.timestamps import HttpTimeStamper

        try:
            timestamper = HttpTimeStamper(args.tsa)
        except ValueError as exc:  # a caller's mistake in the library is a usage error here
            raise UsageError(str(exc)) from None
    if args.pdf:
        from esign.signing.pdf import sign_pdf

        out = sign_pdf(
            read_file(args.file), signer=(key, certificate), chain=chain, timestamper=timestamper
        )
    elif args.smime:
        from esign.signing.smime import write_smime

        out = write_smime(
            read_file(args.file),
            signer=(key, certificate),
            chain=chain,
            detached=detached,
            timestamper=timestamper,
        )
    elif _streams(args, key):
        return _sign_streamed(args, key, certificate, chain, timestamper)
    else:
        from esign.progress import reading_with_progress
        from esign.signing.sign import sign

        with open(args.file, "rb") as handle:
            out = sign(
                reading_with_progress(handle, "signing"),
                signer=(key, certificate),
                chain=chain,
                detached=detached,
                timestamper=timestamper,
            )
        if args.pem:
            out = pem_cms(out)
    write_file(args.out, out)
    shape = "PAdES" if args.pdf else "detached" if detached else "attached"
    print(f"signed {args.file} -> {args.out} ({shape}{', S/MIME' if args.smime else ''})")
    return EXIT_VALID


def _with_embedded_data(report: Any, signature: bytes) -> tuple[dict[str, Any], str]:
    """The report as JSON and text, saying what validation data the signature carried
    (B-LT: CRLs and OCSP responses the verifier used without being given them)."""
    from esign.cli.extend_cmds import embedded_validation_data

    payload, text = report.to_dict(), str(report)
    embedded = embedded_validation_data(signature)
    if embedded:
        payload["embedded_validation_data"] = embedded
        text += (
            f"\nvalidation data in the signature (B-LT): {embedded['crls']} CRL(s), "
            f"{embedded['ocsps']} OCSP response(s)"
        )
    return payload, text


#: Files above this size are signed (attached) and verified as streams, in bounded memory.
STREAM_ABOVE = 16 << 20


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc


def _streams(args: argparse.Namespace, key: Any) -> bool:
    """Whether ``esign sign`` writes a large attached signature as a stream (BER)."""
    from esign.gost.keys import GostPrivateKey

    return (
        args.attached
        and not args.pem
        and not isinstance(key, GostPrivateKey)
        and _size(args.file) > STREAM_ABOVE
    )


def _sign_streamed(
    args: argparse.Namespace, key: Any, certificate: Any, chain: Any, timestamper: Any
) -> int:
    """An attached signature of a large file: read once, written as BER, memory bounded."""
    from esign.cli.envelope_cmds import _open_input, _output
    from esign.progress import byte_progress
    from esign.signing.streaming import sign_stream

    with _open_input(args.file) as src, _output(args.out) as (dst, commit):
        sign_stream(
            src,
            dst,
            signer=(key, certificate),
            chain=chain,
            timestamper=timestamper,
            progress=byte_progress(_size(args.file), "signing"),
        )
        commit()
    print(f"signed {args.file} -> {args.out} (attached, streamed)", file=_notes(args))
    return EXIT_VALID


def _notes(args: argparse.Namespace) -> Any:
    """Where a one-line note goes: stderr when the output itself goes to stdout."""
    return sys.stderr if args.out == "-" else sys.stdout


def _streamed_signature(args: argparse.Namespace) -> bool:
    """Whether the signature file is large binary CMS, verified as a stream."""
    if args.data or _size(args.signature) <= STREAM_ABOVE:
        return False
    try:
        with open(args.signature, "rb") as handle:
            return handle.read(1) == b"\x30"
    except OSError as exc:
        raise UsageError(f"cannot read {args.signature}: {exc.strerror}") from exc


def _verify_streamed(args: argparse.Namespace, options: dict[str, Any]) -> int:
    """A large attached signature: the content goes through the hashes (and to a temporary
    file next to ``--out``, renamed there only once the signature verified)."""
    from esign.cli.envelope_cmds import _open_input, _output
    from esign.progress import byte_progress
    from esign.signing.streaming import verify_stream

    size = _size(args.signature)
    with _open_input(args.signature) as src, _output(args.out) as (dst, commit):
        report = verify_stream(src, out=dst, progress=byte_progress(size, "verifying"), **options)
        _show(args, report.to_dict(), str(report))
        if args.out and report.valid:
            commit()
        elif args.out:
            print("esign: not valid: the content was not written", file=sys.stderr)
    return EXIT_VALID if report.valid else EXIT_INVALID


def _show(args: argparse.Namespace, payload: dict[str, Any], text: str) -> None:
    """The report: on stdout, or on stderr when the content goes to stdout."""
    if args.out == "-":
        print(json.dumps(payload, indent=2) if args.json else text, file=sys.stderr)
    else:
        emit(payload, text, args.json)


def cmd_verify(args: argparse.Namespace) -> int:
    from esign.signing.smime import is_smime, read_smime
    from esign.signing.verify import verify

    streamed = _streamed_signature(args)
    signature = b"" if streamed else read_file(args.signature)
    trust = trust_from(args)  # --crl, --ocsp, --fetch, --no-revocation-check come with it
    lists = trusted_lists_from(args)
    tsa_trust = None
    if args.tsa_trust:
        from esign.certs.trust import TrustContext

        tsa_trust = TrustContext(
            certificates_from(args.tsa_trust),
            crls=trust.crls,
            name="time-stamp authorities",
            legacy_algorithms=args.legacy_algorithms,
        )
    options = {
        "trust": trust,
        "at": parse_time(args.at),
        "certificates": certificates_from(args.certs),
        "trusted_lists": lists,
        "jurisdiction": args.jurisdiction,
        "tsa_trust": tsa_trust,
    }
    if streamed:
        return _verify_streamed(args, options)
    if signature.startswith(b"%PDF-"):
        from esign.signing.pdf import verify_pdf

        if args.out:
            raise UsageError("--out does not apply to a PDF (the document is the PDF itself)")
        if args.data:
            print("esign: note: --data is ignored for PDF input", file=sys.stderr)
        options.pop("at")
        reports = verify_pdf(signature, **options)
        payload = reports[0].to_dict()
        payload["valid"] = all(r.valid for r in reports)
        payload["signatures"] = [r.to_dict() for r in reports]
        text = "\n".join(f"PDF signature {i}:\n{r}" for i, r in enumerate(reports, 1))
        emit(payload, text, args.json)
        return EXIT_VALID if payload["valid"] else EXIT_INVALID
    if is_smime(signature):
        if args.data:
            print("esign: note: --data is ignored for S/MIME input", file=sys.stderr)
        message = read_smime(signature)
        signature = message.signature  # the CMS inside, for the report's embedded data
        content = message.content
        report = verify(message.signature, message.content, **options)
    elif args.data:
        if args.out:
            raise UsageError("--out writes an attached signature's content; --data has it")
        from esign.progress import reading_with_progress

        content = None
        with open(args.data, "rb") as handle:
            report = verify(signature, reading_with_progress(handle, "verifying"), **options)
    else:
        from esign.signing.container import signed_content

        content = signed_content(signature)
        report = verify(signature, None, **options)
    payload, text = _with_embedded_data(report, signature)
    to_stdout = args.out == "-"
    _show(args, payload, text)
    if args.out:
        if not report.valid:
            print("esign: not valid: the content was not written", file=sys.stderr)
        elif content is None:
            raise UsageError("the signature is detached: it carries no content to write")
        elif to_stdout:
            sys.stdout.buffer.write(content)
            sys.stdout.flush()
        else:
            write_file(args.out, content)
    return EXIT_VALID if report.valid else EXIT_INVALID
