"""Signing: CMS SignedData out, verification reports in.

``sign``/``verify`` are the everyday calls; ``add_signer`` and ``countersign`` add
signers, ``add_validation_data`` makes a B-LT signature, ``TimeStampAuthority`` and
``HttpTimeStamper`` give B-T, ``read_smime``/``write_smime`` speak S/MIME,
``sign_pdf``/``verify_pdf`` sign and verify PDFs (PAdES) through pyHanko, and
``Indication``/``SubIndication`` are the ETSI EN 319 102-1 verdicts in every report.
Signing a digest computed elsewhere is in :mod:`esign.hazmat.signing`.
"""

from typing import TYPE_CHECKING

from esign._lazy import lazy_exports

if TYPE_CHECKING:
    from esign.signing.indication import Indication, SubIndication
    from esign.signing.levels import LevelDecision, decide_level
    from esign.signing.pdf import sign_pdf, verify_pdf
    from esign.signing.report import Finding, SignatureLevel, SignerIdentity, VerificationReport
    from esign.signing.sign import add_signer, add_validation_data, countersign, sign
    from esign.signing.smime import SmimeMessage, read_smime, write_smime
    from esign.signing.timestamps import HttpTimeStamper, TimeStampAuthority, TimeStampError
    from esign.signing.verify import verify

__all__ = [
    "Finding",
    "HttpTimeStamper",
    "Indication",
    "LevelDecision",
    "SignatureLevel",
    "SignerIdentity",
    "SmimeMessage",
    "SubIndication",
    "TimeStampAuthority",
    "TimeStampError",
    "VerificationReport",
    "add_signer",
    "add_validation_data",
    "countersign",
    "decide_level",
    "read_smime",
    "sign",
    "sign_pdf",
    "verify",
    "verify_pdf",
    "write_smime",
]

lazy_exports(
    __name__,
    {
        "Indication": "esign.signing.indication",
        "SubIndication": "esign.signing.indication",
        "LevelDecision": "esign.signing.levels",
        "decide_level": "esign.signing.levels",
        "Finding": "esign.signing.report",
        "SignatureLevel": "esign.signing.report",
        "SignerIdentity": "esign.signing.report",
        "VerificationReport": "esign.signing.report",
        "sign_pdf": "esign.signing.pdf",
        "verify_pdf": "esign.signing.pdf",
        "add_signer": "esign.signing.sign",
        "add_validation_data": "esign.signing.sign",
        "countersign": "esign.signing.sign",
        "sign": "esign.signing.sign",
        "SmimeMessage": "esign.signing.smime",
        "read_smime": "esign.signing.smime",
        "write_smime": "esign.signing.smime",
        "HttpTimeStamper": "esign.signing.timestamps",
        "TimeStampAuthority": "esign.signing.timestamps",
        "TimeStampError": "esign.signing.timestamps",
        "verify": "esign.signing.verify",
    },
)
