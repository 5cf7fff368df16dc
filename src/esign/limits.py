"""Every resource budget of esign in one place: its name, its value and why.

A signature service is fed whatever anyone uploads, so each cost an input can raise
(key derivation work, nesting, counts, sizes) has a ceiling an honest input stays far
below. Going over a budget is a named error (:class:`esign.errors.InputTooLargeError`,
exit code 2 on the command line), decided before the expensive work, not after.
The cost of the worst input at each limit, against an ordinary verification, is measured
by ``benchmarks/bench_budgets.py``.

This module imports nothing, so any module can read it.
"""

from __future__ import annotations

# -- sizes -----------------------------------------------------------------------------

#: In-memory CMS input, and everything but the document in a streamed attached signature
#: (esign.signing.streaming): the document itself has no limit there.
MAX_CMS_BYTES = 256 << 20
#: One CRL or OCSP response. A CRL of a million entries is about 40 MiB.
MAX_REVINFO_BYTES = 64 << 20

# -- key derivation ----------------------------------------------------------------------

#: PBKDF2 iterations one password record may ask for (RFC 3211). The default written is
#: 600 000 (OWASP 2023); 10^7 is about 17 times that.
MAX_PBKDF2_ITERATIONS = 10_000_000
#: PBKDF2 iterations spent on all password records while opening one envelope. An honest
#: envelope has one password record; an attacker's has 256 of them at the per-record cap
#: (about 18 s each on a shared core). One record at the cap fits, or 16 at the default.
MAX_KDF_ITERATIONS_PER_OPEN = 10_000_000

# -- counts ------------------------------------------------------------------------------

#: SignerInfos in one SignedData (co-signatures).
MAX_SIGNERS = 64
#: Digest algorithms a streamed SignedData announces before its content (each is a hash
#: over the whole document; one per signer algorithm, two is common).
MAX_DIGEST_ALGORITHMS = 8
#: Certificates embedded in one SignedData (a chain is 2 to 5).
MAX_CERTIFICATES = 256
#: Counter-signatures in the whole tree under one signer, every level counted: each is a
#: signature check and a path validation.
MAX_COUNTERSIGNATURES = 16
#: Levels of counter-signatures of counter-signatures.
MAX_COUNTERSIGNATURE_DEPTH = 4
#: Signed or unsigned attributes of one SignerInfo (CAdES B-LTA uses about a dozen).
MAX_ATTRIBUTES = 64
#: Recipient records of one envelope.
MAX_RECIPIENTS = 256
#: Revoked entries of one CRL (the largest public CRLs hold a few hundred thousand).
MAX_CRL_ENTRIES = 1_000_000
#: Single responses of one OCSP response (RFC 5019 responders send one).
MAX_OCSP_RESPONSES = 64
#: CRLs plus OCSP responses embedded in one SignedData (B-LT needs one per certificate).
MAX_EMBEDDED_REVINFO = 64

# -- nesting -----------------------------------------------------------------------------

#: ASN.1 nesting walked in a SignedData's signer infos.
MAX_ASN1_DEPTH = 64
#: BER nesting while streaming an envelope.
MAX_BER_DEPTH = 32
