"""Every algorithm x every storage format, the KDF bounds, and openssl in both directions."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from asn1crypto import algos, pem
from asn1crypto import keys as asn1_keys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from esign.certs import CertificateAuthority
from esign.errors import (
    EsignError,
    KeyStorageError,
    MalformedInputError,
    PasswordRequiredError,
    UnknownKeyFormatError,
    UnsupportedAlgorithmError,
    WrongPasswordError,
)
from esign.keys import (
    ALGORITHMS,
    KeyBundle,
    Pbkdf2Kdf,
    PrivateKey,
    ScryptKdf,
    algorithm_name,
    dump_key,
    dump_pkcs12,
    generate_key,
    load_key,
    load_pkcs12,
    parse_key,
    parse_pkcs12,
    save_key,
    save_pkcs12,
)
from esign.keys.pkcs8 import inspect_encrypted

from .conftest import run

PASSWORD = "Ivanov's certificate password"
#: Algorithms cryptography's PKCS#12 writer takes; the others are refused with a named error.
PKCS12_ALGORITHMS = {"ec-p256", "ec-p384", "ed25519", "rsa-3072", "rsa-4096"}
#: Algorithms OpenSSL 3.0 knows (it predates ML-DSA / ML-KEM).
OPENSSL30_ALGORITHMS = ["ec-p256", "ec-p384", "ed25519", "x25519", "rsa-3072"]


@cache
def key_of(name: str) -> PrivateKey:
    """One key per algorithm for the whole module (RSA-4096 generation is slow)."""
    return generate_key(name)


@cache
def ca() -> CertificateAuthority:
    return CertificateAuthority.create_root("CN=Key Storage Test CA")


def certificate_for(key: PrivateKey) -> x509.Certificate:
    return ca().issue(key.public_key(), subject="CN=Ivan Ivanov", profile="signing")


def _raw(data: bytes) -> bytes:
    return pem.unarmor(data)[2] if pem.detect(data) else data


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
@pytest.mark.parametrize(
    "storage", ["pkcs8-pem-scrypt", "pkcs8-der-scrypt", "pkcs8-pem-pbkdf2", "pkcs12"]
)
def test_every_algorithm_round_trips_in_every_format(
    tmp_path: Path, name: str, storage: str
) -> None:
    key = key_of(name)
    path = tmp_path / "key"
    if storage == "pkcs12":
        if name not in PKCS12_ALGORITHMS:
            with pytest.raises(UnsupportedAlgorithmError, match="encrypted PKCS#8"):
                dump_pkcs12(key, None, PASSWORD)
            return
        cert = certificate_for(key)
        save_pkcs12(path, key, cert, PASSWORD, chain=[ca().certificate], friendly_name="ivanov")
        bundle = load_pkcs12(path, PASSWORD)
        assert bundle.certificate == cert and bundle.chain == [ca().certificate]
        assert bundle.friendly_name == "ivanov"
        loaded = bundle.key
    else:
        _, encoding, kdf_name = storage.split("-")
        kdf = ScryptKdf() if kdf_name == "scrypt" else Pbkdf2Kdf()
        save_key(key, path, PASSWORD, encoding=encoding, kdf=kdf)  # type: ignore[arg-type]
        protection = inspect_encrypted(_raw(path.read_bytes()))
        assert (protection.kdf, protection.cipher) == (kdf_name, "aes256_cbc")
        loaded = load_key(path, PASSWORD)
    assert path.stat().st_mode & 0o077 == 0
    assert algorithm_name(loaded) == name
    assert loaded.public_key() == key.public_key()
    with pytest.raises(WrongPasswordError):
        load_key(path, PASSWORD + "!")


def test_default_kdf_is_scrypt_within_openssl_limits() -> None:
    protection = inspect_encrypted(dump_key(key_of("ec-p256"), PASSWORD, encoding="der"))
    assert protection.kdf == "scrypt"
    assert protection.parameters == {"N": 16384, "r": 8, "p": 5}
    # 128 * r * N = 16 MiB: the most OpenSSL 3.0 accepts without -scrypt_maxmem.
    assert 128 * 8 * 16384 <= 32 << 20


def test_pkcs12_protection_is_aes256_pbes2() -> None:
    from esign.keys.pkcs12 import check_pkcs12_bounds

    key = key_of("ec-p256")
    described = check_pkcs12_bounds(dump_pkcs12(key, certificate_for(key), PASSWORD))
    assert "certificates: PBES2 pbkdf2 (iterations=600000, prf=sha256), aes256_cbc" in described
    assert "key: PBES2 pbkdf2 (iterations=600000, prf=sha256), aes256_cbc" in described
    # cryptography alone would leave the MAC at 2,048 iterations; esign re-MACs it.
    assert "MAC HMAC-SHA256 (600000 iterations)" in described


def test_pkcs12_refuses_a_certificate_of_another_key() -> None:
    with pytest.raises(MalformedInputError, match="does not belong"):
        dump_pkcs12(key_of("ec-p256"), certificate_for(key_of("ec-p384")), PASSWORD)


@pytest.mark.parametrize("storage", ["pkcs8", "pkcs12"])
def test_wrong_or_missing_password(storage: str) -> None:
    key = key_of("ec-p256")
    data = dump_pkcs12(key, None, PASSWORD) if storage == "pkcs12" else dump_key(key, PASSWORD)
    with pytest.raises(WrongPasswordError):
        parse_key(data, "not the password")
    with pytest.raises(PasswordRequiredError):
        parse_key(data, None)


def test_unencrypted_only_when_asked(tmp_path: Path) -> None:
    key = key_of("ml-dsa-65")
    with pytest.raises(PasswordRequiredError):
        save_key(key, tmp_path / "k.pem", None)
    assert not (tmp_path / "k.pem").exists()
    save_key(key, tmp_path / "k.pem", None, unencrypted=True)
    assert b"BEGIN PRIVATE KEY" in (tmp_path / "k.pem").read_bytes()
    assert load_key(tmp_path / "k.pem").public_key() == key.public_key()
    with pytest.raises(PasswordRequiredError):
        dump_pkcs12(key_of("ec-p256"), None, "")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", UnknownKeyFormatError),
        (b"hello", UnknownKeyFormatError),
        (b"\x04\x03abc", UnknownKeyFormatError),
        (b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", UnknownKeyFormatError),
        (b"\x30\x03\x02\x01\x00", MalformedInputError),
        (b"\x30" + b"\x00" * 40, MalformedInputError),
    ],
)
def test_unknown_formats_are_named(data: bytes, error: type[EsignError]) -> None:
    with pytest.raises(error):
        parse_key(data, PASSWORD)


@pytest.mark.parametrize("storage", ["pkcs8-pem", "pkcs8-der", "pkcs12"])
@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.99])
def test_truncated_files_are_refused(storage: str, keep: float) -> None:
    key = key_of("ec-p256")
    if storage == "pkcs12":
        data = dump_pkcs12(key, certificate_for(key), PASSWORD)
    else:
        data = dump_key(key, PASSWORD, encoding=storage.split("-")[1])  # type: ignore[arg-type]
    with pytest.raises((MalformedInputError, KeyStorageError)):
        parse_key(data[: int(len(data) * keep)], PASSWORD)


def _epki_with(kdf_params: dict[str, object], kdf_oid: str = "pbkdf2") -> bytes:
    """An EncryptedPrivateKeyInfo whose KDF asks for the given parameters."""
    from esign.keys.pkcs8 import ScryptParams

    if kdf_oid == "pbkdf2":
        kdf = {
            "algorithm": "pbkdf2",
            "parameters": {
                "salt": algos.Pbkdf2Salt(name="specified", value=b"s" * 16),
                **kdf_params,
            },
        }
    else:
        kdf = {"algorithm": kdf_oid, "parameters": ScryptParams({"salt": b"s" * 16, **kdf_params})}
    der: bytes = asn1_keys.EncryptedPrivateKeyInfo(
        {
            "encryption_algorithm": {
                "algorithm": "pbes2",
                "parameters": {
                    "key_derivation_func": kdf,
                    "encryption_scheme": {"algorithm": "aes256_cbc", "parameters": b"i" * 16},
                },
            },
            "encrypted_data": b"\x00" * 48,
        }
    ).dump()
    return der


@pytest.mark.parametrize(
    "params",
    [
        {"iteration_count": 2**31 - 1},
        {"iteration_count": 0},
    ],
)
def test_hostile_pbkdf2_iterations_are_refused_before_any_work(params: dict[str, object]) -> None:
    with pytest.raises(MalformedInputError, match="iterations"):
        parse_key(_epki_with(params), PASSWORD)


@pytest.mark.parametrize(
    ("n", "r", "p"),
    [(1 << 30, 8, 1), (1 << 14, 1 << 20, 1), (1 << 14, 8, 1 << 20), (1000, 8, 1), (0, 8, 1)],
)
def test_hostile_scrypt_parameters_are_refused_before_any_work(n: int, r: int, p: int) -> None:
    from esign.keys.pkcs8 import SCRYPT_OID

    params = {"cost_parameter": n, "block_size": r, "parallelization_parameter": p}
    with pytest.raises(MalformedInputError, match="scrypt"):
        parse_key(_epki_with(params, SCRYPT_OID), PASSWORD)


def test_pkcs12_with_hostile_mac_iterations_is_refused() -> None:
    from asn1crypto import pkcs12

    key = key_of("ec-p256")
    pfx = pkcs12.Pfx.load(dump_pkcs12(key, None, PASSWORD))
    pfx["mac_data"]["iterations"] = 2**31 - 1
    with pytest.raises(MalformedInputError, match="iterations"):
        parse_pkcs12(pfx.dump(force=True), PASSWORD)


# -- openssl, both directions ------------------------------------------------------------


@pytest.mark.interop
@pytest.mark.parametrize("name", OPENSSL30_ALGORITHMS)
@pytest.mark.parametrize("kdf", [ScryptKdf(), Pbkdf2Kdf()], ids=["scrypt", "pbkdf2"])
def test_openssl_reads_esign_pkcs8(
    openssl: str, tmp_path: Path, name: str, kdf: ScryptKdf | Pbkdf2Kdf
) -> None:
    key = key_of(name)
    path = tmp_path / "k.pem"
    save_key(key, path, PASSWORD, kdf=kdf)
    result = run(openssl, "pkey", "-in", path, "-passin", f"pass:{PASSWORD}", "-pubout")
    assert result.returncode == 0, result.stderr
    assert serialization.load_pem_public_key(result.stdout) == key.public_key()
    wrong = run(openssl, "pkey", "-in", path, "-passin", "pass:wrong", "-pubout")
    assert wrong.returncode != 0


@pytest.mark.interop
def test_esign_reads_openssl_scrypt_pkcs8(openssl: str, tmp_path: Path) -> None:
    plain, encrypted = tmp_path / "plain.pem", tmp_path / "enc.der"
    assert run(openssl, "genpkey", "-algorithm", "ED25519", "-out", plain).returncode == 0
    result = run(
        openssl, "pkcs8", "-topk8", "-scrypt", "-in", plain, "-outform", "DER",
        "-passout", f"pass:{PASSWORD}", "-out", encrypted,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert inspect_encrypted(encrypted.read_bytes()).kdf == "scrypt"
    assert load_key(encrypted, PASSWORD).public_key() == load_key(plain).public_key()


@pytest.mark.interop
@pytest.mark.parametrize("name", sorted(PKCS12_ALGORITHMS - {"rsa-4096"}))
def test_openssl_reads_esign_pkcs12(openssl: str, tmp_path: Path, name: str) -> None:
    key = key_of(name)
    cert = certificate_for(key)
    path = tmp_path / "ivanov.p12"
    save_pkcs12(path, key, cert, PASSWORD, chain=[ca().certificate])
    info = run(openssl, "pkcs12", "-in", path, "-passin", f"pass:{PASSWORD}", "-info", "-noout")
    assert info.returncode == 0, info.stderr
    assert b"PBES2, PBKDF2, AES-256-CBC, Iteration 600000, PRF hmacWithSHA256" in info.stderr
    assert b"MAC: sha256, Iteration 600000" in info.stderr
    keyout = run(
        openssl, "pkcs12", "-in", path, "-passin", f"pass:{PASSWORD}", "-nocerts", "-nodes"
    )
    assert keyout.returncode == 0, keyout.stderr
    assert parse_key(keyout.stdout).public_key() == key.public_key()
    certs = run(openssl, "pkcs12", "-in", path, "-passin", f"pass:{PASSWORD}", "-nokeys")
    assert certs.returncode == 0
    found = x509.load_pem_x509_certificates(certs.stdout)
    assert set(found) == {cert, ca().certificate}
    bad = run(openssl, "pkcs12", "-in", path, "-passin", "pass:wrong", "-noout")
    assert bad.returncode != 0


@pytest.mark.interop
@pytest.mark.parametrize("legacy", [False, True], ids=["aes", "legacy-3des"])
def test_esign_reads_openssl_pkcs12(openssl: str, tmp_path: Path, legacy: bool) -> None:
    key = key_of("rsa-3072")
    cert = certificate_for(key)
    key_path, cert_path, ca_path = tmp_path / "k.pem", tmp_path / "c.pem", tmp_path / "ca.pem"
    save_key(key, key_path, None, unencrypted=True)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    ca_path.write_bytes(ca().certificate.public_bytes(serialization.Encoding.PEM))
    out = tmp_path / "openssl.p12"
    args = ["-legacy"] if legacy else []
    result = run(
        openssl, "pkcs12", "-export", *args, "-inkey", key_path, "-in", cert_path,
        "-certfile", ca_path, "-name", "ivanov", "-passout", f"pass:{PASSWORD}", "-out", out,
    )  # fmt: skip
    if legacy and result.returncode != 0 and b"legacy" in result.stderr.lower():
        pytest.skip("this openssl has no legacy provider")
    assert result.returncode == 0, result.stderr
    bundle: KeyBundle = load_pkcs12(out, PASSWORD)
    assert bundle.key.public_key() == key.public_key()
    assert bundle.certificate == cert and bundle.chain == [ca().certificate]
    assert bundle.friendly_name == "ivanov"
    assert load_key(out, PASSWORD).public_key() == key.public_key()  # load_key reads PKCS#12 too
    with pytest.raises(WrongPasswordError):
        load_pkcs12(out, "wrong")


# -- published vectors --------------------------------------------------------------------

#: The IETF examples, copied unchanged into tests/vectors/ (see its README).
VECTORS = Path(__file__).resolve().parent / "vectors" / "rfc9881-ml-dsa-certs"


@pytest.mark.parametrize("level", ["44", "65", "87"])
def test_rfc9881_seed_private_keys_match_their_certificates(level: str) -> None:
    key = load_key(VECTORS / f"ML-DSA-{level}-seed.priv")
    assert algorithm_name(key) == f"ml-dsa-{level}"
    cert = x509.load_pem_x509_certificate((VECTORS / f"ML-DSA-{level}.crt").read_bytes())
    assert key.public_key() == cert.public_key()


@pytest.mark.parametrize("name", ["bad-ML-DSA-44-1", "bad-ML-DSA-44-2", "bad-ML-DSA-44-3"])
def test_rfc9881_malformed_private_keys_are_refused(name: str) -> None:
    with pytest.raises((MalformedInputError, UnsupportedAlgorithmError)):
        load_key(VECTORS / f"{name}.priv")


@pytest.mark.interop
def test_pkcs12_with_a_cyrillic_password_both_ways(openssl: str, tmp_path: Path) -> None:
    """The MAC key derivation encodes the password as BMPString, as OpenSSL does."""
    password = "пароль-Иванова"
    key = key_of("ec-p256")
    ours = tmp_path / "ours.p12"
    save_pkcs12(ours, key, certificate_for(key), password)
    check = run(openssl, "pkcs12", "-in", ours, "-passin", f"pass:{password}", "-noout")
    assert check.returncode == 0, check.stderr
    key_path, cert_path, theirs = tmp_path / "k.pem", tmp_path / "c.pem", tmp_path / "t.p12"
    save_key(key, key_path, None, unencrypted=True)
    cert_path.write_bytes(certificate_for(key).public_bytes(serialization.Encoding.PEM))
    made = run(
        openssl, "pkcs12", "-export", "-inkey", key_path, "-in", cert_path,
        "-passout", f"pass:{password}", "-out", theirs,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert load_pkcs12(theirs, password).key.public_key() == key.public_key()
    with pytest.raises(WrongPasswordError):
        load_pkcs12(ours, "пароль")


@pytest.mark.parametrize("form", ["expanded", "both"])
def test_rfc9881_expanded_forms_are_named(form: str) -> None:
    with pytest.raises(UnsupportedAlgorithmError, match=f"ML-DSA-65 private key in the {form}"):
        load_key(VECTORS / f"ML-DSA-65-{form}.priv")


def test_overwriting_a_loose_file_makes_it_private(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    path.write_text("old")
    path.chmod(0o644)
    save_key(key_of("ec-p256"), path, PASSWORD)
    assert path.stat().st_mode & 0o077 == 0
    assert load_key(path, PASSWORD).public_key() == key_of("ec-p256").public_key()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.pem"], "no temporary file left"


def test_wrong_password_with_valid_cbc_padding_is_still_a_wrong_password() -> None:
    """PBES2 with AES-CBC has no MAC: about 1 wrong password in 256 decrypts to valid
    padding. Such a password must still be reported as wrong, not as a damaged file."""
    from cryptography.hazmat.primitives import padding as sym_padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    from esign.keys import dump_key, parse_key

    key = key_of("ec-p256")
    der = dump_key(key, "right", encoding="der", kdf=Pbkdf2Kdf(iterations=1000))
    info = inspect_encrypted(der)
    assert info.kdf == "pbkdf2"
    from asn1crypto import keys as asn1_keys

    epki = asn1_keys.EncryptedPrivateKeyInfo.load(der)
    params = epki["encryption_algorithm"]["parameters"]
    salt = params["key_derivation_func"]["parameters"]["salt"].native
    iv = params["encryption_scheme"]["parameters"].native
    ciphertext = epki["encrypted_data"].native
    for attempt in range(5000):
        guess = f"wrong-{attempt}".encode()
        kek = PBKDF2HMAC(hashes.SHA256(), 32, salt, 1000).derive(guess)
        plain = Cipher(algorithms.AES(kek), modes.CBC(iv)).decryptor().update(ciphertext)
        unpadder = sym_padding.PKCS7(128).unpadder()
        try:
            unpadder.update(plain)
            unpadder.finalize()
        except ValueError:
            continue
        break  # this wrong password passes the padding check
    else:
        pytest.fail("no wrong password with valid padding in 5000 tries (p < 1e-8)")
    with pytest.raises(WrongPasswordError):
        parse_key(der, guess)
