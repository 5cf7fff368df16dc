"""PDF signatures (PAdES baseline) through pyHanko, with esign's keys, certificates and
reports.

Signing is pyHanko's ``PdfSigner`` (an incremental update holding a CAdES-style CMS with
the ``ETSI.CAdES.detached`` subfilter) driven by the same signer as ``esign.sign``.
Verification reads each signature with pyHanko (``EmbeddedPdfSignature``), checks that its
byte range covers the whole revision, and verifies its CMS over exactly those bytes with
``esign.verify``: same report, same levels, same trust contexts as every other signature.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

from asn1crypto import parser as asn1_parser
from cryptography import x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.signers.pdf_signer import PdfSignatureMetadata, PdfSigner
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import SignatureCoverageLevel

from esign._sync import run_sync
from esign.certs.trust import TrustContext
from esign.certs.trusted_list import TrustedList
from esign.errors import MalformedInputError
from esign.signing.container import MAX_CMS_BYTES
from esign.signing.report import VerificationReport
from esign.signing.sign import Signer, _pyhanko_signer, digest_for
from esign.signing.verify import verify

MAX_PDF_SIGNATURES = 64
_PDF_ERRORS = (PdfError, ValueError, TypeError, KeyError, IndexError, AttributeError)


def _strip_padding(contents: bytes) -> bytes:
    """The CMS in a PDF ``/Contents`` is zero-padded to its reserved size: cut the padding,
    and refuse anything else after the DER."""
    try:
        _, _, _, header, body, _ = asn1_parser.parse(contents)
    except ValueError as exc:
        raise MalformedInputError(f"malformed PDF signature contents: {exc}") from exc
    end = len(header) + len(body)
    if contents[end:].strip(b"\x00"):
        raise MalformedInputError("data after the CMS in the PDF signature contents")
    return contents[:end]


def sign_pdf(
    pdf: bytes,
    *,
    signer: Signer,
    chain: Sequence[x509.Certificate] = (),
    field_name: str | None = None,
    timestamper: TimeStamper | None = None,
) -> bytes:
    """Sign a PDF (PAdES B-B, or B-T with a ``timestamper``) and return the new PDF.

    The signature goes into a new field (``Signature1``, or the next free
    ``SignatureN`` when the PDF is signed already) as an incremental update, so earlier
    signatures keep covering their own revisions. ``field_name`` names an existing empty
    field (or a new one) instead.
    """
    if len(pdf) > MAX_CMS_BYTES:
        raise MalformedInputError(f"PDF larger than {MAX_CMS_BYTES >> 20} MiB")
    key, certificate = signer
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        field_name = field_name or _free_field_name(writer)
    except _PDF_ERRORS as exc:
        raise MalformedInputError(f"cannot sign this PDF: {exc}") from exc
    meta = PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm=digest_for(key),
        subfilter=SigSeedSubFilter.PADES,
    )
    try:
        pdf_signer = PdfSigner(
            meta, signer=_pyhanko_signer(key, certificate, chain), timestamper=timestamper
        )
        out = run_sync(pdf_signer.async_sign_pdf(writer, output=io.BytesIO()))
    except _PDF_ERRORS as exc:
        raise MalformedInputError(f"cannot sign this PDF: {exc}") from exc
    data: bytes = out.getvalue()
    return data


def _free_field_name(writer: IncrementalPdfFileWriter) -> str:
    """``Signature1``, or the first ``SignatureN`` no field of the PDF uses yet."""
    from pyhanko.sign.fields import enumerate_sig_fields

    taken = {name for name, _value, _ref in enumerate_sig_fields(writer.prev)}
    number = 1
    while f"Signature{number}" in taken:
        number += 1
    return f"Signature{number}"


def verify_pdf(
    pdf: bytes,
    *,
    trust: TrustContext,
    certificates: Iterable[x509.Certificate] = (),
    trusted_lists: Iterable[TrustedList] = (),
    jurisdiction: str = "eidas",
    tsa_trust: TrustContext | None = None,
) -> list[VerificationReport]:
    """One report per signature in the PDF, in document order.

    A signature whose byte range does not cover its whole revision is not valid
    (``pdf_coverage``); one followed by later revisions gets a warning
    (``pdf_later_revisions``): what was added after it is not covered by it.
    """
    if len(pdf) > MAX_CMS_BYTES:
        raise MalformedInputError(f"PDF larger than {MAX_CMS_BYTES >> 20} MiB")
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        embedded: list[EmbeddedPdfSignature] = list(reader.embedded_signatures)
    except _PDF_ERRORS as exc:
        raise MalformedInputError(f"not a readable PDF: {exc}") from exc
    if not embedded:
        raise MalformedInputError("the PDF holds no signature")
    if len(embedded) > MAX_PDF_SIGNATURES:
        raise MalformedInputError(f"more than {MAX_PDF_SIGNATURES} signatures")
    extra = list(certificates)
    reports = []
    for signature in embedded:
        try:
            start1, length1, start2, length2 = (int(v) for v in signature.byte_range)
            signed_bytes = pdf[start1 : start1 + length1] + pdf[start2 : start2 + length2]
            cms_der = _strip_padding(signature.pkcs7_content)
            coverage = signature.evaluate_signature_coverage()
        except _PDF_ERRORS as exc:
            raise MalformedInputError(f"malformed PDF signature: {exc}") from exc
        report = verify(
            cms_der,
            signed_bytes,
            trust=trust,
            certificates=extra,
            trusted_lists=trusted_lists,
            jurisdiction=jurisdiction,
            tsa_trust=tsa_trust,
        )
        # PAdES keeps the claimed signing time in the signature dictionary (/M), not in CMS.
        report.warnings = [w for w in report.warnings if w.code != "no_signing_time"]
        try:
            report.signing_time = report.signing_time or signature.self_reported_timestamp
        except _PDF_ERRORS:
            report.warn("no_signing_time", "the PDF signature states no signing time")
        if coverage < SignatureCoverageLevel.ENTIRE_REVISION:
            report.error("pdf_coverage", "the signature does not cover its whole revision")
        elif coverage < SignatureCoverageLevel.ENTIRE_FILE:
            report.warn(
                "pdf_later_revisions",
                "the PDF was updated after this signature; the updates are not covered by it",
            )
        reports.append(report.finish())
    return reports
