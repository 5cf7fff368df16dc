"""``esign extend``: embed validation data in a signature (CAdES B-LT).

A signature that carries its chain and the CRLs / OCSP responses of that chain verifies
later with no network and no ``--crl``: the verifier finds the evidence inside. The data
goes outside the signed attributes, so every signature and time-stamp stays valid.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from esign.cli.common import (
    EXIT_VALID,
    MAX_INPUT_FILE,
    UsageError,
    certificates_from,
    read_file,
    write_file,
)

if TYPE_CHECKING:
    from cryptography import x509


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "extend",
        help="embed certificates, CRLs and OCSP responses in a signature (CAdES B-LT)",
        epilog="example: esign extend return.p7s --crl ca.crl --out return.lt.p7s  "
        "(then: esign verify return.lt.p7s --data return.txt --trust ca.pem, no --crl)",
    )
    p.add_argument("signature", metavar="SIGNATURE", help="the CMS signature (DER or PEM)")
    p.add_argument(
        "--crl", action="extend", nargs="+", metavar="FILE", help="CRL(s) to embed (repeatable)"
    )
    p.add_argument(
        "--ocsp",
        action="extend",
        nargs="+",
        metavar="FILE",
        help="OCSP response(s) to embed, DER or PEM (repeatable)",
    )
    p.add_argument(
        "--fetch",
        action="store_true",
        help="also download the CRLs named in the CRL distribution points (http) of the "
        "signature's certificates and of --cert",
    )
    p.add_argument(
        "--fetch-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="timeout of each HTTP request when fetching (default 10)",
    )
    p.add_argument(
        "--cert",
        dest="certs",
        action="extend",
        nargs="+",
        metavar="FILE",
        help="certificates to embed: intermediates the signature lacks (repeatable)",
    )
    p.add_argument("--pem", action="store_true", help="write PEM instead of DER")
    p.add_argument("--out", required=True, metavar="FILE", help="the extended signature")
    p.set_defaults(func=cmd_extend)


def _signature_certificates(signature: bytes) -> list[x509.Certificate]:
    """The certificates a signature already carries."""
    from asn1crypto import core
    from cryptography import x509

    from esign.signing.container import load_signed_data

    certificates = load_signed_data(signature)["certificates"]
    found = []
    for choice in () if isinstance(certificates, core.Void) else certificates:
        if choice.name == "certificate":
            found.append(x509.load_der_x509_certificate(choice.chosen.dump()))
    return found


def _fetch_crls(certificates: list[x509.Certificate], timeout: float) -> list[bytes]:
    """The CRLs at the http distribution points of ``certificates`` (each URL once)."""
    import urllib.request

    from cryptography import x509

    from esign.certs.revinfo import parse_crl
    from esign.limits import MAX_REVINFO_BYTES

    urls: list[str] = []
    for certificate in certificates:
        try:
            points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints)
        except x509.ExtensionNotFound:
            continue
        for point in points.value:
            for name in point.full_name or ():
                if isinstance(name, x509.UniformResourceIdentifier) and name.value.startswith(
                    "http://"
                ):
                    urls.append(name.value)
    crls = []
    for url in dict.fromkeys(urls):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as reply:
                data = reply.read(MAX_REVINFO_BYTES + 1)
        except OSError as exc:
            raise UsageError(f"cannot fetch the CRL at {url}: {exc}") from exc
        crls.append(parse_crl(data).dump())
    return crls


def cmd_extend(args: argparse.Namespace) -> int:
    from esign.certs.revinfo import parse_crl, parse_ocsp_response
    from esign.signing.sign import add_validation_data

    signature = read_file(args.signature)
    extra = certificates_from(args.certs)
    crls = [parse_crl(read_file(p, limit=MAX_INPUT_FILE)).dump() for p in args.crl or []]
    ocsps = [
        parse_ocsp_response(read_file(p, limit=MAX_INPUT_FILE)).dump() for p in args.ocsp or []
    ]
    if args.fetch:
        crls += _fetch_crls(_signature_certificates(signature) + extra, args.fetch_timeout)
    if not (crls or ocsps or extra):
        raise UsageError("nothing to embed: give --crl, --ocsp, --fetch or --cert")
    out = add_validation_data(signature, certificates=extra, crls=crls, ocsps=ocsps)
    if args.pem:
        from esign.cli.signing_cmds import pem_cms

        out = pem_cms(out)
    write_file(args.out, out)
    print(
        f"embedded {len(crls)} CRL(s), {len(ocsps)} OCSP response(s), "
        f"{len(extra)} certificate(s) -> {args.out}"
    )
    return EXIT_VALID


def embedded_validation_data(signature: bytes) -> dict[str, int]:
    """How many CRLs and OCSP responses a CMS signature carries (B-LT evidence), for the
    verify report; empty when it carries none or is not CMS."""
    from esign.certs.revinfo import revocation_from_signed_data
    from esign.errors import EsignError
    from esign.signing import der
    from esign.signing.container import load_signed_data, unarmor

    try:  # the plain shape (no crls field, no unsigned attributes) carries none
        der.split_signed_data(bytes(unarmor(signature)))
        return {}
    except Exception:  # any other shape: read in full below
        pass
    try:
        embedded = revocation_from_signed_data(load_signed_data(signature))
    except EsignError:
        return {}
    if not (embedded.crls or embedded.ocsps):
        return {}
    return {"crls": len(embedded.crls), "ocsps": len(embedded.ocsps)}
