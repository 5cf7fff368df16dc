"""Keys: generation by stable algorithm name, password-protected storage, and custody.

- :mod:`esign.keys.algorithms`: names (``ec-p256`` ... ``ml-kem-1024``) and what each is fit for;
- :mod:`esign.keys.storage` / :mod:`esign.keys.pkcs12`: encrypted PKCS#8 and PKCS#12 files;
- :mod:`esign.keys.handle`: the :class:`KeyHandle` protocol and :class:`LocalKey`;
- :mod:`esign.keys.vault`: the hosted vault (:class:`KeyVault`, :class:`VaultKey`);
- :mod:`esign.keys.pkcs11_token`: keys on PKCS#11 tokens (:class:`Pkcs11Token`, :class:`Pkcs11Key`).
"""

from typing import TYPE_CHECKING

from esign._lazy import lazy_exports
from esign.keys.algorithms import (
    ALGORITHMS,
    KeyAlgorithm,
    KeyUse,
    PrivateKey,
    PublicKey,
    algorithm_name,
    generate_key,
    get_algorithm,
    names_for,
)
from esign.keys.handle import KeyHandle, LocalKey

if TYPE_CHECKING:
    from esign.keys.pkcs8 import Pbkdf2Kdf, ScryptKdf
    from esign.keys.pkcs11_token import Pkcs11Key, Pkcs11Token
    from esign.keys.pkcs12 import KeyBundle, dump_pkcs12, load_pkcs12, parse_pkcs12, save_pkcs12
    from esign.keys.storage import dump_key, load_key, parse_key, save_key
    from esign.keys.vault import KeyVault, VaultKey

__all__ = [
    "ALGORITHMS",
    "KeyAlgorithm",
    "KeyBundle",
    "KeyHandle",
    "KeyUse",
    "KeyVault",
    "LocalKey",
    "Pbkdf2Kdf",
    "Pkcs11Key",
    "Pkcs11Token",
    "PrivateKey",
    "PublicKey",
    "ScryptKdf",
    "VaultKey",
    "algorithm_name",
    "dump_key",
    "dump_pkcs12",
    "generate_key",
    "get_algorithm",
    "load_key",
    "load_pkcs12",
    "names_for",
    "parse_key",
    "parse_pkcs12",
    "save_key",
    "save_pkcs12",
]

lazy_exports(
    __name__,
    {
        "Pbkdf2Kdf": "esign.keys.pkcs8",
        "ScryptKdf": "esign.keys.pkcs8",
        "Pkcs11Key": "esign.keys.pkcs11_token",
        "Pkcs11Token": "esign.keys.pkcs11_token",
        "KeyBundle": "esign.keys.pkcs12",
        "dump_pkcs12": "esign.keys.pkcs12",
        "load_pkcs12": "esign.keys.pkcs12",
        "parse_pkcs12": "esign.keys.pkcs12",
        "save_pkcs12": "esign.keys.pkcs12",
        "dump_key": "esign.keys.storage",
        "load_key": "esign.keys.storage",
        "parse_key": "esign.keys.storage",
        "save_key": "esign.keys.storage",
        "KeyVault": "esign.keys.vault",
        "VaultKey": "esign.keys.vault",
    },
)
