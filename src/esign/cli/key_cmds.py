"""``esign key generate``, ``esign key info`` and ``esign key pkcs12``."""

from __future__ import annotations

import argparse
import getpass
import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal

from cryptography.hazmat.primitives import serialization

from esign.cli.common import (
    EXIT_VALID,
    LazyChoices,
    UsageError,
    add_password_options,
    certificate_from,
    certificates_from,
    load_private_key,
    password_from,
    read_file,
)
from esign.errors import EsignError, PasswordRequiredError

if TYPE_CHECKING:  # key files are read and written by the commands that need them
    from esign.keys.algorithms import PrivateKey, PublicKey
    from esign.keys.pkcs12 import KeyBundle


def _algorithm_names() -> Iterable[str]:
    from esign.keys.algorithms import ALGORITHMS

    return ALGORITHMS


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    key = subparsers.add_parser("key", help="generate and inspect private keys")
    commands = key.add_subparsers(dest="key_command", required=True, parser_class=type(key))

    g = commands.add_parser("generate", help="generate a key, stored encrypted (PKCS#8)")
    g.add_argument("--alg", required=True, choices=LazyChoices(_algorithm_names), metavar="NAME",
                   help="algorithm: %(choices)s")  # fmt: skip
    g.add_argument("--out", required=True, metavar="FILE", help="private key file to write")
    g.add_argument("--der", action="store_true", help="write DER instead of PEM")
    g.add_argument("--kdf", choices=["scrypt", "pbkdf2"], default="scrypt",
                   help="password-based key derivation (default scrypt)")  # fmt: skip
    g.add_argument("--public-out", metavar="FILE", help="also write the public key (PEM)")
    g.add_argument("--unencrypted", action="store_true",
                   help="write the private key in clear (only when asked)")  # fmt: skip
    add_password_options(g)
    g.set_defaults(func=cmd_generate)

    i = commands.add_parser("info", help="describe a key file: format, protection, algorithm")
    i.add_argument("file", metavar="FILE")
    i.add_argument("--json", action="store_true", help="print one JSON object")
    add_password_options(i)
    i.set_defaults(func=cmd_info)

    p = commands.add_parser("pkcs12", help="bundle a key, its certificate and chain (.p12)")
    p.add_argument("--key", required=True, metavar="FILE", help="private key (PEM/DER)")
    p.add_argument("--cert", required=True, metavar="FILE", help="its certificate")
    p.add_argument("--chain", action="extend", nargs="+", metavar="FILE",
                   help="CA certificates to include (repeatable)")  # fmt: skip
    p.add_argument("--name", metavar="TEXT", help="friendly name stored with the key")
    p.add_argument("--out", required=True, metavar="FILE", help="PKCS#12 file to write")
    add_password_options(p)
    p.set_defaults(func=cmd_pkcs12)


def _new_password(args: argparse.Namespace) -> bytes:
    """A new password from --password-file, $ESIGN_PASSWORD, or typed twice on a terminal."""
    if args.password_file or os.environ.get("ESIGN_PASSWORD") is not None:
        password = password_from(args)
    elif sys.stdin is not None and sys.stdin.isatty():
        password = getpass.getpass("new key password: ").encode("utf-8")
        if getpass.getpass("repeat the password: ").encode("utf-8") != password:
            raise UsageError("the two passwords differ")
    else:
        raise PasswordRequiredError(
            "give the new key's password with --password-file, ESIGN_PASSWORD or a terminal"
        )
    if not password:
        raise UsageError("the password must not be empty")
    return password


def _fingerprint(public: PublicKey) -> str:
    spki = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "SHA256:" + hashlib.sha256(spki).hexdigest()


def cmd_generate(args: argparse.Namespace) -> int:
    from esign.keys.pkcs8 import kdf_from_name
    from esign.keys.storage import save_key

    password = None if args.unencrypted else _new_password(args)
    from esign.keys.algorithms import generate_key

    key = generate_key(args.alg)
    encoding: Literal["pem", "der"] = "der" if args.der else "pem"
    try:
        save_key(key, args.out, password, encoding=encoding, unencrypted=args.unencrypted,
                 kdf=kdf_from_name(args.kdf))  # fmt: skip
    except OSError as exc:
        raise UsageError(f"cannot write {args.out}: {exc.strerror}") from exc
    public = key.public_key()
    if args.public_out:
        pem = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        try:
            with open(args.public_out, "wb") as handle:
                handle.write(pem)
        except OSError as exc:
            raise UsageError(f"cannot write {args.public_out}: {exc.strerror}") from exc
    protection = "unencrypted" if args.unencrypted else f"encrypted ({args.kdf})"
    print(f"{args.alg} key -> {args.out} ({protection}); public key {_fingerprint(public)}")
    return EXIT_VALID


def _uses(name: str) -> list[str]:
    from esign.keys.algorithms import ALGORITHMS, KeyUse

    algorithm = ALGORITHMS.get(name)
    if algorithm is None:
        return []
    return [use.value for use in KeyUse if algorithm.fit_for(use)]


def cmd_info(args: argparse.Namespace) -> int:
    from esign.keys.pkcs8 import inspect_encrypted
    from esign.keys.pkcs12 import check_pkcs12_bounds, parse_pkcs12
    from esign.keys.storage import MAX_KEY_FILE, detect_format, parse_key

    data = read_file(args.file, limit=MAX_KEY_FILE)
    kind = detect_format(data)
    info: dict[str, Any] = {"file": args.file}
    key: PrivateKey | None
    if kind == "pkcs12":
        info["format"] = "PKCS#12"
        info["protection"] = check_pkcs12_bounds(data)
        bundle = _with_password(lambda pw: _bundle_key(parse_pkcs12(data, pw), info), args)
        key = bundle
    else:
        der = data
        if kind == "pkcs8-pem":
            from asn1crypto import pem

            try:
                label, _, der = pem.unarmor(data[data.index(b"-----BEGIN ") :])
            except ValueError as exc:
                raise UsageError(f"{args.file}: not readable PEM") from exc
            info["format"] = f"PEM ({label})"
        else:
            info["format"] = "DER"
        try:
            info["protection"] = [inspect_encrypted(der).describe()]
        except EsignError:
            info["protection"] = ["unencrypted"]
        try:
            key = parse_key(data, None)
        except PasswordRequiredError:
            key = _with_password(lambda pw: parse_key(data, pw), args)
    if key is None:
        info["algorithm"] = None
        print_info(info, args.json)
        return EXIT_VALID
    from esign.keys.algorithms import algorithm_name

    name = algorithm_name(key)
    info.update(algorithm=name, uses=_uses(name), public_key=_fingerprint(key.public_key()))
    print_info(info, args.json)
    return EXIT_VALID


def _with_password(
    parse: Callable[[bytes], PrivateKey], args: argparse.Namespace
) -> PrivateKey | None:
    """Decrypt with the password if one is at hand; without one, show only the outside."""
    try:
        password = password_from(args)
    except PasswordRequiredError:
        return None
    return parse(password)


def print_info(info: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(info, indent=2))
        return
    for field in ("file", "format", "algorithm", "uses", "public_key", "certificate"):
        if field in info:
            value = info[field]
            if value is None:
                value = "(encrypted: give the password to see it)"
            print(f"{field}: {', '.join(value) if isinstance(value, list) else value}")
    for line in info["protection"]:
        print(f"protection: {line}")


def _bundle_key(bundle: KeyBundle, info: dict[str, Any]) -> PrivateKey:
    if bundle.certificate is not None:
        info["certificate"] = bundle.certificate.subject.rfc4514_string()
    info["chain"] = [c.subject.rfc4514_string() for c in bundle.chain]
    return bundle.key


def cmd_pkcs12(args: argparse.Namespace) -> int:
    from esign.keys.algorithms import algorithm_name
    from esign.keys.pkcs12 import save_pkcs12

    key = load_private_key(args.key, args)
    certificate = certificate_from(args.cert)
    password = _new_password(args)
    try:
        save_pkcs12(args.out, key, certificate, password, chain=certificates_from(args.chain),
                    friendly_name=args.name)  # fmt: skip
    except OSError as exc:
        raise UsageError(f"cannot write {args.out}: {exc.strerror}") from exc
    print(f"{algorithm_name(key)} key + certificate -> {args.out} (PKCS#12, AES-256)")
    return EXIT_VALID
