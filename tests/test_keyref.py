"""The command line's key names: RFC 7512 pkcs11: URIs and vault:FILE#NAME."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from esign.cli.common import UsageError
from esign.cli.keyref import Pkcs11Uri, split_vault_ref


def test_pkcs11_uri_path_and_query_attributes_are_read_and_decoded() -> None:
    uri = Pkcs11Uri.parse(
        "pkcs11:token=Tax%20Service;object=decrypt%3Bkey;id=%01"
        "?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=12%2634"
    )
    assert uri.token == "Tax Service" and uri.object == "decrypt;key"
    assert uri.module_path == "/usr/lib/softhsm/libsofthsm2.so"
    assert uri.pin(argparse.Namespace()) == b"12&34"


def test_pkcs11_pin_source_file(tmp_path: Path) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text("9876\n")
    uri = Pkcs11Uri.parse(f"pkcs11:token=t;object=o?pin-source=file:{pin_file}")
    assert uri.pin(argparse.Namespace()) == b"9876"


@pytest.mark.parametrize(
    "bad", ["pkcs11:token=t", "pkcs11:object=o", "pkcs11:token", "pkcs11:token=t;object"]
)
def test_incomplete_pkcs11_uris_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError):
        Pkcs11Uri.parse(bad)


def test_vault_names() -> None:
    assert split_vault_ref("vault:/srv/keys.vault#ivanov") == ("/srv/keys.vault", "ivanov")
    assert split_vault_ref("vault:a#b#c") == ("a#b", "c")
    for bad in ("vault:keys.vault", "vault:#name", "vault:file#"):
        with pytest.raises(UsageError):
            split_vault_ref(bad)
