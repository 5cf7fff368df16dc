"""Key generation and password-protected storage, including keys made by openssl."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from esign.errors import (
    MalformedInputError,
    PasswordRequiredError,
    UnsupportedAlgorithmError,
    WrongPasswordError,
)
from esign.keys import (
    ALGORITHMS,
    algorithm_name,
    dump_key,
    generate_key,
    load_key,
    parse_key,
    save_key,
)

from .conftest import run

FAST_ALGORITHMS = [name for name in ALGORITHMS if not name.startswith("rsa-4096")]


@pytest.mark.parametrize("name", FAST_ALGORITHMS)
@pytest.mark.parametrize("encoding", ["pem", "der"])
def test_generate_save_load_round_trip(tmp_path: Path, name: str, encoding: str) -> None:
    key = generate_key(name)
    assert algorithm_name(key) == name
    path = tmp_path / "key"
    save_key(key, path, "correct horse", encoding=encoding)  # type: ignore[arg-type]
    data = path.read_bytes()
    assert b"ENCRYPTED" in data if encoding == "pem" else data[:1] == b"\x30"
    assert path.stat().st_mode & 0o077 == 0, "a key file must be private to its owner"
    loaded = load_key(path, "correct horse")
    assert loaded.public_key() == key.public_key()


def test_unknown_algorithm_is_named() -> None:
    with pytest.raises(UnsupportedAlgorithmError, match="unknown key algorithm 'ec-p999'"):
        generate_key("ec-p999")


def test_wrong_password_is_named(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    save_key(generate_key("ec-p256"), path, "right")
    with pytest.raises(WrongPasswordError):
        load_key(path, "wrong")


def test_encrypted_key_without_password(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    save_key(generate_key("ec-p256"), path, "right")
    with pytest.raises(PasswordRequiredError):
        load_key(path)


def test_refuses_to_write_unencrypted_key_unless_asked() -> None:
    key = generate_key("ec-p256")
    with pytest.raises(PasswordRequiredError):
        dump_key(key, None)
    with pytest.raises(PasswordRequiredError):
        dump_key(key, "")
    clear = dump_key(key, None, unencrypted=True)
    assert b"BEGIN PRIVATE KEY" in clear


@pytest.mark.parametrize("garbage", [b"", b"not a key", b"\x30\x03\x02\x01\x00", b"\x00" * 64])
def test_garbage_is_malformed(garbage: bytes) -> None:
    with pytest.raises(MalformedInputError):
        parse_key(garbage, None)


def test_corrupted_encrypted_key_is_refused_with_a_named_error() -> None:
    data = bytearray(dump_key(generate_key("ec-p256"), "pw", encoding="der"))
    data[len(data) // 2] ^= 0xFF
    with pytest.raises((WrongPasswordError, MalformedInputError)):
        parse_key(bytes(data), "pw")


def test_missing_file_is_named(tmp_path: Path) -> None:
    from esign.errors import KeyStorageError

    with pytest.raises(KeyStorageError, match="cannot read key file"):
        load_key(tmp_path / "absent.pem")


@pytest.mark.parametrize(
    "command",
    [
        ["ecparam", "-name", "prime256v1", "-genkey", "-noout"],  # traditional EC PRIVATE KEY
        ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],  # PKCS#8
        ["genpkey", "-algorithm", "ED25519"],
    ],
)
def test_keys_made_by_openssl_load(openssl: str, tmp_path: Path, command: list[str]) -> None:
    path = tmp_path / "openssl.key"
    result = run(openssl, *command, "-out", path)
    assert result.returncode == 0, result.stderr
    key = load_key(path)
    assert algorithm_name(key) in ALGORITHMS


def test_encrypted_key_made_by_openssl_loads(openssl: str, tmp_path: Path) -> None:
    path = tmp_path / "openssl.key"
    result = run(
        openssl,
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-aes-256-cbc",
        "-pass",
        "pass:s3cret",
        "-out",
        path,
    )
    assert result.returncode == 0, result.stderr
    assert isinstance(load_key(path, "s3cret"), ec.EllipticCurvePrivateKey)
    with pytest.raises(WrongPasswordError):
        load_key(path, "nope")


def test_esign_encrypted_key_is_read_by_openssl(openssl: str, tmp_path: Path) -> None:
    key = generate_key("ec-p256")
    path = tmp_path / "k.pem"
    save_key(key, path, "s3cret")
    result = run(openssl, "pkey", "-in", path, "-passin", "pass:s3cret", "-pubout")
    assert result.returncode == 0, result.stderr
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    assert load_pem_public_key(result.stdout) == key.public_key()
