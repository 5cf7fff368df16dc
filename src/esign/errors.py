"""One exception hierarchy: every failure esign reports is an :class:`EsignError`.

Callers catch ``EsignError`` to handle anything esign refuses; the subclasses say why.
Each class carries a stable ``code`` that reports and the command line reuse.

An ``EsignError`` is an input fault: malformed, oversized, tampered, untrusted, refused
by policy, a wrong password, a registry that is busy. A caller's mistake (an argument of
the wrong type or out of range, arguments that exclude each other) is a ``TypeError`` /
``ValueError`` as in the standard library, so ``except EsignError`` never hides a bug;
:class:`KeyUsageError` and :class:`KeyMismatchError` are deliberately both. Every class
here is raised somewhere (``tests/test_error_kinds.py`` checks it).
"""

from __future__ import annotations


class EsignError(Exception):
    """Root of every error esign raises on purpose."""

    code = "error"


class MalformedInputError(EsignError):
    """Input is not what it claims to be: bad DER/PEM, wrong structure, out of bounds."""

    code = "malformed"


class InputTooLargeError(MalformedInputError):
    """Input exceeds a parser bound (size, nesting or count)."""

    code = "too_large"


class InvalidSignatureError(EsignError):
    """A signature is cryptographically wrong or does not match its content (raised by
    the GOST primitives, whose library has no exception of its own)."""

    code = "invalid_signature"


class UnsupportedAlgorithmError(EsignError):
    """An algorithm esign does not implement, or one refused by the algorithm policy."""

    code = "unsupported_algorithm"


class DecryptionError(EsignError):
    """An envelope could not be opened.

    Deliberately uniform: a wrong key, a tampered ciphertext or a bad key wrap all
    produce the same message, so the error is no oracle.
    """

    code = "decryption_failed"

    def __init__(
        self, message: str = "the envelope cannot be decrypted: wrong key, or it was modified"
    ) -> None:
        super().__init__(message)


class NoMatchingRecipientError(EsignError):
    """The envelope has no recipient record for the key offered to open it."""

    code = "no_matching_recipient"


class KeyStorageError(EsignError):
    """Base for problems loading or storing a private key."""

    code = "key_storage"


class WrongPasswordError(KeyStorageError):
    """The password does not decrypt the key."""

    code = "wrong_password"


class PasswordRequiredError(KeyStorageError):
    """The key is encrypted and no password was given."""

    code = "password_required"


class CertificateProfileError(EsignError):
    """A certificate profile cannot be honoured with the given inputs."""

    code = "profile"


class KeyUsageError(CertificateProfileError, ValueError):
    """A certificate's key usage forbids what it is asked to do (e.g. encrypt to a
    signing-only certificate). Also a ``ValueError``: the caller chose the wrong one."""

    code = "key_usage"


class KeyMismatchError(EsignError, ValueError):
    """A private key (or key handle) does not belong to the certificate given with it."""

    code = "key_mismatch"


class RecipientsModifiedError(DecryptionError):
    """The envelope's recipient records differ from those its signer bound.

    A record was changed, added or removed after signing (possibly someone else's record,
    which the content MAC does not cover). Same uniform message as DecryptionError.
    """

    code = "recipients_modified"


class InvalidCsrError(MalformedInputError):
    """A certification request (PKCS#10) is unreadable or its self-signature is wrong."""

    code = "invalid_csr"


class RegistryError(EsignError):
    """The CA's registry of issued certificates refused an operation."""

    code = "registry"


class CertificateNotFoundError(RegistryError):
    """No certificate with this serial number was issued by this CA."""

    code = "certificate_not_found"


class RegistryUnavailableError(RegistryError):
    """The registry cannot be reached now; nothing was issued. Retry after ``retry_after``.

    Issuance records a certificate before returning it, so when this is raised no
    certificate exists anywhere: retrying is always safe.
    """

    code = "registry_unavailable"
    retryable = True

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(f"{message} (retry in {retry_after:g} s)")
        self.retry_after = retry_after


class RegistryBusyError(RegistryUnavailableError):
    """The registry is locked by other issuers (too many requests at once): retry later."""

    code = "registry_busy"


class RevocationError(EsignError):
    """A CRL or OCSP response is malformed, not signed by whom it claims, or not usable."""

    code = "revocation"


class OcspSigningError(RevocationError):
    """The OCSP responder's key could not sign an answer (a token or vault that failed).

    The request itself was fine: an HTTP responder answers ``internalError`` (RFC 6960
    §2.3), never ``malformedRequest``, so clients retry instead of giving up.
    """

    code = "ocsp_signing"


class TrustedListError(MalformedInputError):
    """A trusted list cannot be read, or its signature does not verify."""

    code = "trusted_list"


class UnknownKeyFormatError(MalformedInputError):
    """A file is not a private key in any format esign reads (PKCS#8, PKCS#12, PEM)."""

    code = "unknown_key_format"


class KeyNotFoundError(KeyStorageError):
    """No key with that identifier in the vault or on the token."""

    code = "key_not_found"


class KeyLockedError(KeyStorageError):
    """Too many wrong passwords: the key is locked until ``locked_until``."""

    code = "key_locked"

    def __init__(self, message: str, locked_until: object = None) -> None:
        super().__init__(message)
        self.locked_until = locked_until


class TokenError(KeyStorageError):
    """A PKCS#11 token or its library refused an operation."""

    code = "token"


class CredentialError(EsignError):
    """Base for refusals of the personal-account credentials behind simple signatures."""

    code = "credentials"


class AuthenticationError(CredentialError):
    """Login or recovery refused.

    Deliberately uniform: an unknown account, a wrong password, a wrong one-time code and a
    wrong control word all produce the same message, so the error reveals nothing.
    """

    code = "authentication_failed"

    def __init__(
        self, message: str = "authentication failed: unknown account or wrong credentials"
    ) -> None:
        super().__init__(message)


class AccountLockedError(CredentialError):
    """Too many failed tries: the account is locked until ``until`` (UTC)."""

    code = "account_locked"

    def __init__(self, until: object) -> None:
        super().__init__(f"too many failed attempts: locked until {until}")
        self.until = until


class RecoveryTokenError(CredentialError):
    """A recovery link is unknown, already used or expired."""

    code = "recovery_token"


class CredentialPolicyError(CredentialError):
    """A credential breaks the account policy (e.g. a control word longer than allowed)."""

    code = "credential_policy"


class InvalidTinError(CredentialPolicyError):
    """A taxpayer number that is not one: wrong length, not digits, or a bad check digit."""

    code = "invalid_tin"


class InvalidEmailError(CredentialPolicyError):
    """An e-mail address that cannot receive a recovery link (no ``@``, no domain...)."""

    code = "invalid_email"


class WeakPasswordError(CredentialPolicyError):
    """A password shorter than the policy's minimum."""

    code = "weak_password"


class AccountExistsError(CredentialError):
    """An account with this name or TIN is already registered."""

    code = "account_exists"


#: What a parser (asn1crypto above all) may raise on malformed input, however deep the
#: fault lies. Every entry point that reads outside bytes catches exactly these and turns
#: them into a named refusal; one tuple, so a fault class found by fuzzing is added once.
PARSE_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    OverflowError,
    RecursionError,
    UnicodeDecodeError,
    AttributeError,
)
