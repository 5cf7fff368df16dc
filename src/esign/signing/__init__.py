"""Signing: CMS SignedData out, verification reports in.

``sign``/``verify`` are the everyday calls; ``add_signer`` and ``countersign`` add
signers, ``add_validation_data`` makes a B-LT signature, ``TimeStampAuthority`` and
``HttpTimeStamper`` give B-T, ``read_smime``/``write_smime`` speak S/MIME, and
``esign.signing.pdf`` signs and verifies PDFs (PAdES) through pyHanko.
"""

from esign.signing.levels import LevelDecision, decide_level
from esign.signing.report import Finding, SignatureLevel, SignerIdentity, VerificationReport
from esign.signing.sign import add_signer, add_validation_data, countersign, sign
from esign.signing.smime import SmimeMessage, read_smime, write_smime
from esign.signing.timestamps import HttpTimeStamper, TimeStampAuthority, TimeStampError
from esign.signing.verify import verify

__all__ = [
    "Finding",
    "HttpTimeStamper",
    "LevelDecision",
    "SignatureLevel",
    "SignerIdentity",
    "SmimeMessage",
    "TimeStampAuthority",
    "TimeStampError",
    "VerificationReport",
    "add_signer",
    "add_validation_data",
    "countersign",
    "decide_level",
    "read_smime",
    "sign",
    "verify",
    "write_smime",
]
