"""Signing content hashed elsewhere (e.g. while streaming it, or by another process).

:func:`sign_digest` writes what :func:`esign.sign` writes for the same content, detached;
the digest must be made with :func:`digest_for` of the signing key, and nothing checks
that it is the digest of the document you mean. ``esign.verify(..., digests=...)`` is the
other direction.
"""

from esign.signing.sign import digest_for, sign_digest

__all__ = ["digest_for", "sign_digest"]
