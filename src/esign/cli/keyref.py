"""Naming a private key on the command line: a file, a PKCS#11 token key, a vault entry.

``--key`` takes one of
- a file (PEM/DER PKCS#8, encrypted or not, or PKCS#12), as before;
- an RFC 7512 URI ``pkcs11:token=LABEL;object=LABEL`` (path attributes; ``id`` is not
  used), with optional query attributes ``module-path=/path/lib.so`` and
  ``pin-value=...`` / ``pin-source=file:/path`` (RFC 7512 §2.3);
- ``vault:FILE#NAME``: the entry NAME of the KeyVault in the SQLite file FILE.

Passwords and PINs come from where a key password always comes from
(``--password-file``, ``$ESIGN_PASSWORD``, a prompt) unless the URI carries the PIN.
Tokens and vault keys stay open for the ``ExitStack`` the caller gives, and close with it;
their private keys never leave them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import urllib.parse
from dataclasses import dataclass
from typing import Any

from esign.cli.common import UsageError, load_private_key, password_from, read_file
from esign.keys.handle import KeyHandle

PKCS11_SCHEME = "pkcs11:"
VAULT_SCHEME = "vault:"


@dataclass(frozen=True)
class Pkcs11Uri:
    """The parts of an RFC 7512 URI that name a key on a token."""

    token: str
    object: str
    module_path: str | None = None
    pin_value: str | None = None
    pin_source: str | None = None

    @classmethod
    def parse(cls, uri: str) -> Pkcs11Uri:
        """Parse ``pkcs11:path?query``; percent-encoding is decoded (RFC 7512 §2.3)."""
        if not uri.startswith(PKCS11_SCHEME):
            raise UsageError(f"not a pkcs11: URI: {uri!r}")
        body = uri[len(PKCS11_SCHEME) :]
        path, _, query = body.partition("?")
        attributes: dict[str, str] = {}
        for part, separator in ((path, ";"), (query, "&")):
            for item in filter(None, part.split(separator)):
                name, equals, value = item.partition("=")
                if not equals:
                    raise UsageError(f"pkcs11: URI attribute without a value: {item!r}")
                attributes[name] = urllib.parse.unquote(value)
        missing = [name for name in ("token", "object") if name not in attributes]
        if missing:
            raise UsageError(f"the pkcs11: URI must name {' and '.join(missing)} ({uri!r})")
        return cls(
            token=attributes["token"],
            object=attributes["object"],
            module_path=attributes.get("module-path"),
            pin_value=attributes.get("pin-value"),
            pin_source=attributes.get("pin-source"),
        )

    def pin(self, args: argparse.Namespace) -> bytes:
        """The PIN: from the URI if it carries one, else the usual password sources."""
        if self.pin_value is not None:
            return self.pin_value.encode("utf-8")
        if self.pin_source is not None:
            path = self.pin_source.removeprefix("file:")
            lines = read_file(path, limit=4096).splitlines()
            return lines[0] if lines else b""
        return password_from(args, prompt=f"PIN of token {self.token}: ")


def split_vault_ref(ref: str) -> tuple[str, str]:
    """``vault:FILE#NAME`` -> (FILE, NAME)."""
    body = ref[len(VAULT_SCHEME) :]
    path, hash_sign, name = body.rpartition("#")
    if not hash_sign or not path or not name:
        raise UsageError(f"a vault key is named vault:FILE#NAME, not {ref!r}")
    return path, name


def open_key(ref: str, args: argparse.Namespace, stack: contextlib.ExitStack) -> Any:
    """The private key (a file) or key handle (a token or vault key) that ``ref`` names.

    Handles stay open until ``stack`` closes. Errors are the library's named ones (wrong
    PIN or password, locked key, no such key) or a UsageError for a malformed name.
    """
    if ref.startswith(PKCS11_SCHEME):
        from esign.keys.pkcs11_token import Pkcs11Token

        uri = Pkcs11Uri.parse(ref)
        token = stack.enter_context(Pkcs11Token(uri.token, uri.pin(args), library=uri.module_path))
        return token.key(uri.object)
    if ref.startswith(VAULT_SCHEME):
        from esign.keys.vault import KeyVault

        path, name = split_vault_ref(ref)
        if not os.path.isfile(path):  # a missing file is a usage error, not a new vault
            raise UsageError(f"no key vault at {path}")
        vault = stack.enter_context(KeyVault(path))
        handle: KeyHandle = stack.enter_context(
            vault.unlock(name, password_from(args, prompt=f"password of {name}: "))
        )
        return handle
    return load_private_key(ref, args)
