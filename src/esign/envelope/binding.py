"""The recipient binding: a signed attribute naming every intended recipient and pinning
their records, so a forwarded or altered envelope is detected on opening.

The recipient records are made first; each signer's signed attributes then carry a
:class:`~esign.asn1.RecipientBinding` with every intended recipient and the SHA-256 of
the RecipientInfos. On opening, every signer's binding must name the opener (else
``not_an_intended_recipient``: the envelope was forwarded), and records changed after
signing make opening fail (:class:`RecipientsModifiedError`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from asn1crypto import cms
from cryptography import x509

from esign.asn1 import IntendedRecipient, RecipientBinding
from esign.envelope.recipients.common import rid_key_id
from esign.envelope.recipients.ml_kem import kem_record
from esign.errors import MalformedInputError, RecipientsModifiedError, UnsupportedAlgorithmError
from esign.signing.container import PARSE_ERRORS
from esign.signing.report import VerificationReport

BINDING_VERSION = 1


def binding_attribute(infos: cms.RecipientInfos) -> cms.CMSAttribute:
    """The signed attribute that names the intended recipients and pins their records."""
    entries = [entry for info in infos for entry in intended_entries(info)]
    binding = RecipientBinding(
        {
            "version": BINDING_VERSION,
            "recipients": entries,
            "digest_algorithm": {"algorithm": "sha256"},
            "recipient_infos_digest": hashlib.sha256(infos.dump()).digest(),
        }
    )
    return cms.CMSAttribute({"type": "esign_recipient_binding", "values": [binding]})


def intended_entries(info: cms.RecipientInfo) -> list[IntendedRecipient]:
    """How the recipient binding names the recipient(s) of one record.

    Certificate recipients by issuer and serial (or subject key identifier), password
    records by the SHA-256 of the record itself (there is no name to give).
    """
    rids: list[Any] = []
    if info.name == "ktri":
        rids.append(info.chosen["rid"])
    elif info.name == "kari":
        rids.extend(rek["rid"] for rek in info.chosen["recipient_encrypted_keys"])
    elif (kemri := kem_record(info)) is not None:
        rids.append(kemri["rid"])
    elif info.name == "pwri":
        digest = hashlib.sha256(info.chosen.dump()).digest()
        return [IntendedRecipient(name="password_record", value=digest)]
    entries: list[IntendedRecipient] = []
    for rid in rids:
        if rid.name == "issuer_and_serial_number":
            entries.append(
                IntendedRecipient(
                    name="issuer_and_serial_number",
                    value=cms.IssuerAndSerialNumber.load(rid.chosen.dump()),
                )
            )
        elif (key_id := rid_key_id(rid)) is not None:
            entries.append(IntendedRecipient(name="subject_key_identifier", value=key_id))
    return entries


def read_binding(signer_info: cms.SignerInfo) -> RecipientBinding | None:
    """The signer's recipient binding, if the signed attributes carry exactly one."""
    attrs = signer_info["signed_attrs"]
    if attrs.native is None:
        return None
    found = [a for a in attrs if a["type"].native == "esign_recipient_binding"]
    if not found:
        return None
    if len(found) != 1 or len(found[0]["values"]) != 1:
        raise MalformedInputError("more than one recipient binding in the signed attributes")
    binding: RecipientBinding = found[0]["values"][0]
    binding.native  # noqa: B018 - parse it all now, so faults surface here
    return binding


def _subject_key_id(certificate: x509.Certificate) -> bytes | None:
    try:
        return certificate.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier
        ).value.digest
    except x509.ExtensionNotFound:
        return None


def _match(entry: IntendedRecipient, known: Sequence[x509.Certificate]) -> x509.Certificate | None:
    """The known certificate a binding entry names, if any."""
    for certificate in known:
        if entry.name == "issuer_and_serial_number":
            serial = entry.chosen["serial_number"].native
            issuer = entry.chosen["issuer"].dump()
            if certificate.serial_number == serial and certificate.issuer.public_bytes() == issuer:
                return certificate
        elif entry.name == "subject_key_identifier" and (
            _subject_key_id(certificate) == entry.chosen.native
        ):
            return certificate
    return None


def describe(entry: IntendedRecipient, known: Sequence[x509.Certificate] = ()) -> str:
    """A human name for a binding entry (for reports).

    The binding names a certificate as CMS does (issuer and serial, or key id); when one
    of the ``known`` certificates (the opener's, those in the signature) is that
    certificate, the recipient is named by its own subject, which is what a reader expects.
    """
    found = _match(entry, known)
    if entry.name == "issuer_and_serial_number":
        serial = f"{entry.chosen['serial_number'].native:x}"
        if found is not None:
            return f"{found.subject.rfc4514_string()} (certificate serial {serial})"
        issuer = entry.chosen["issuer"].human_friendly
        return f"certificate serial {serial} from {issuer}"
    if entry.name == "subject_key_identifier":
        key_id = entry.chosen.native.hex()
        if found is not None:
            return f"{found.subject.rfc4514_string()} (key id {key_id})"
        return f"key id {key_id}"
    return f"password record {entry.chosen.native.hex()[:16]}"


def check_bindings(
    signer_infos: cms.SignerInfos,
    infos: cms.RecipientInfos,
    opened_by: int,
    report: VerificationReport,
    infos_der: bytes | None = None,
    known: Sequence[x509.Certificate] = (),
) -> list[str]:
    """Check every signer's recipient binding against the envelope; return the names bound.

    Each signer speaks for itself: a forwarder who adds his own signature binding the new
    recipient does not vouch for the original signer, whose binding still names someone
    else, so the envelope is not valid. ``report`` is the first signer's report, with the
    others in ``report.cosigners`` (the order of ``signer_infos``). Only a signature whose
    value verified can vouch for its binding; without one, the report already says why it
    is not valid. ``known`` certificates name the recipients by their subjects.
    """
    reports = [report, *report.cosigners]
    if len(reports) != len(signer_infos):
        raise MalformedInputError("the report does not match the signers")
    mine = {entry.dump() for entry in intended_entries(infos[opened_by])}
    digest = hashlib.sha256(infos.dump() if infos_der is None else infos_der).digest()
    names: list[str] = []
    for number, (signer_info, own) in enumerate(zip(signer_infos, reports, strict=True), 1):
        who = "the signer" if len(reports) == 1 else f"signer {number}"
        try:
            binding = read_binding(signer_info)
        except PARSE_ERRORS as exc:
            raise MalformedInputError(f"the recipient binding is malformed: {exc}") from exc
        if binding is None:
            report.warn(
                "no_recipient_binding",
                f"{who} did not name the intended recipients: forwarding cannot be detected",
            )
            continue
        bound = [describe(entry, known) for entry in binding["recipients"]]
        names.extend(name for name in bound if name not in names)
        if not own.signature_intact:
            continue
        if binding["version"].native != BINDING_VERSION:
            raise UnsupportedAlgorithmError("unknown recipient binding version")
        if binding["digest_algorithm"]["algorithm"].native != "sha256":
            raise UnsupportedAlgorithmError("the recipient binding must use SHA-256")
        if not mine & {entry.dump() for entry in binding["recipients"]}:
            report.error(
                "not_an_intended_recipient",
                f"{who} sealed this document for someone else "
                f"({'; '.join(bound)}): it was re-encrypted and forwarded",
            )
        elif digest != binding["recipient_infos_digest"].native:
            raise RecipientsModifiedError()
    report.finish()
    return names
