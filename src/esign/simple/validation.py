"""Checks on what a person types at registration: TIN, e-mail address, password.

A typo in the TIN or the e-mail address is caught at the door, not months later when
the recovery link goes nowhere. The TIN check is the Russian INN's (10 digits for an
organisation, 12 for a person, check digits mod 11 per the Federal Tax Service's
algorithm); a service outside Russia sets ``CredentialPolicy(tin_format="any")``.
"""

from __future__ import annotations

import re

from esign.errors import InvalidEmailError, InvalidTinError, WeakPasswordError

_INN10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_A = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_B = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)

# One @, a local part without spaces, a domain of at least two dot-separated labels.
_EMAIL = re.compile(r"[^@\s]{1,64}@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}")


def _check_digit(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11 % 10


def is_valid_inn(tin: str) -> bool:
    """True for a 10- or 12-digit INN whose check digits are right."""
    if not tin.isascii() or not tin.isdigit():
        return False
    if len(tin) == 10:
        return _check_digit(tin, _INN10) == int(tin[9])
    if len(tin) == 12:
        return _check_digit(tin, _INN12_A) == int(tin[10]) and _check_digit(tin, _INN12_B) == int(
            tin[11]
        )
    return False


def check_tin(tin: str, tin_format: str) -> str:
    """The TIN, stripped; :class:`InvalidTinError` if it is not one."""
    value = tin.strip()
    if not value:
        raise InvalidTinError("the TIN is empty")
    if tin_format == "inn" and not is_valid_inn(value):
        raise InvalidTinError(
            "not a valid INN: 10 or 12 digits with correct check digits (a typo?)"
        )
    return value


def check_email(email: str) -> str:
    """The address, stripped and lower-cased; :class:`InvalidEmailError` if malformed."""
    value = email.strip().lower()
    if len(value) > 254 or not _EMAIL.fullmatch(value):
        raise InvalidEmailError(f"not an e-mail address: {email!r}")
    return value


def check_password(password: str, minimum: int) -> None:
    """:class:`WeakPasswordError` for a password shorter than ``minimum`` characters."""
    if len(password) < minimum:
        raise WeakPasswordError(f"the password must be at least {minimum} characters")
