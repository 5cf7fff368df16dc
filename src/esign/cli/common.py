"""What every subcommand shares: exit codes, reading files, passwords, output."""

from __future__ import annotations

import argparse
import datetime
import getpass
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from esign.errors import EsignError, PasswordRequiredError

if TYPE_CHECKING:  # imported where used: a command loads only what it needs
    from cryptography import x509

    from esign.certs.trust import TrustContext
    from esign.certs.trusted_list import TrustedList
    from esign.keys.algorithms import PrivateKey

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_UNPROCESSABLE = 2

MAX_INPUT_FILE = 256 << 20


class UsageError(EsignError):
    """A command-line usage problem (exit code 2)."""

    code = "usage"


def read_file(path: str, limit: int = MAX_INPUT_FILE) -> bytes:
    """Read a whole input file, with a clear error for missing or oversized files."""
    try:
        size = os.path.getsize(path)
        if size > limit:
            raise UsageError(f"{path}: larger than {limit >> 20} MiB")
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc


def write_file(path: str, data: bytes) -> None:
    """Write an output file, turning OS errors into a one-line usage error."""
    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc


#: The option destinations that name a file a command writes; each gets ``--force``.
OUTPUT_OPTIONS = ("out", "public_out")


def add_force_options(parser: argparse.ArgumentParser) -> None:
    """Give every (sub)command that writes a file a ``--force`` to overwrite it.

    Done once over the whole parser tree so no command can forget it.
    """
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                add_force_options(sub)
    dests = {action.dest for action in parser._actions}
    if dests & set(OUTPUT_OPTIONS) and "force" not in dests:
        parser.add_argument(
            "--force", action="store_true", help="overwrite output files that already exist"
        )


def refuse_overwrite(args: argparse.Namespace) -> None:
    """Stop before any work if an output file exists and ``--force`` was not given.

    Keys, certificates and CA files are not replaceable; losing one silently is the worst
    outcome a command can have, so the check runs before anything is computed.
    """
    if getattr(args, "force", False):
        return
    for dest in OUTPUT_OPTIONS:
        path = getattr(args, dest, None)
        if path and os.path.lexists(path):
            raise UsageError(f"{path} already exists; give --force to overwrite it")


def add_signer_options(parser: argparse.ArgumentParser, who: str = "signer") -> None:
    """``--key``/``--cert``/``--chain``: one signer, its key named wherever it lives."""
    parser.add_argument(
        "--key",
        required=True,
        metavar="KEY",
        help=f"{who} key: a file (PEM/DER/PKCS#12), a pkcs11: URI (RFC 7512) or vault:FILE#NAME",
    )
    parser.add_argument("--cert", required=True, metavar="FILE", help=f"{who} certificate")
    parser.add_argument(
        "--chain",
        action="extend",
        nargs="+",
        metavar="FILE",
        help="intermediate certificates to embed (repeatable)",
    )


def add_password_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-file",
        metavar="FILE",
        help="read the key password from FILE (first line); else $ESIGN_PASSWORD or a prompt",
    )


def password_from(args: argparse.Namespace, prompt: str = "key password: ") -> bytes:
    """The password from --password-file, $ESIGN_PASSWORD, or a terminal prompt."""
    if getattr(args, "password_file", None):
        data = read_file(args.password_file, limit=4096)
        return data.splitlines()[0] if data.splitlines() else b""
    env = os.environ.get("ESIGN_PASSWORD")
    if env is not None:
        return env.encode("utf-8")
    if sys.stdin is not None and sys.stdin.isatty():
        return getpass.getpass(prompt).encode("utf-8")
    raise PasswordRequiredError(
        "the key is encrypted: give --password-file, set ESIGN_PASSWORD, or run on a terminal"
    )


def load_private_key(path: str, args: argparse.Namespace) -> PrivateKey:
    """Load a PEM/DER key, asking for a password only if the key is encrypted."""
    from esign.keys.storage import MAX_KEY_FILE, parse_key

    data = read_file(path, limit=MAX_KEY_FILE)
    try:
        return parse_key(data, None)
    except PasswordRequiredError:
        return parse_key(data, password_from(args))


def certificates_from(paths: list[str] | None) -> list[x509.Certificate]:
    from esign.certs.loading import load_certificates

    found: list[x509.Certificate] = []
    for path in paths or []:
        found.extend(load_certificates(path))
    return found


def certificate_from(path: str) -> x509.Certificate:
    from esign.certs.loading import load_certificate

    return load_certificate(path)


def positive_int(text: str) -> int:
    """An argparse type for counts and days: a whole number of at least 1 (else exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def parse_time(value: str | None) -> datetime.datetime | None:
    """Parse an ISO-8601 time (``Z`` allowed); naive times are taken as UTC."""
    if value is None:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(f"--at: not an ISO-8601 time: {value!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment


def add_trust_options(parser: argparse.ArgumentParser, *, extra_certs: bool = True) -> None:
    parser.add_argument(
        "--trust",
        action="extend",
        nargs="+",
        required=True,
        metavar="FILE",
        help="trust anchor certificate(s), PEM or DER (repeatable)",
    )
    parser.add_argument(
        "--crl",
        action="extend",
        nargs="+",
        metavar="FILE",
        help="certificate revocation list(s), PEM or DER (repeatable)",
    )
    if extra_certs:
        parser.add_argument(
            "--cert",
            dest="certs",
            action="extend",
            nargs="+",
            metavar="FILE",
            help="extra certificates: the signer's or intermediates (repeatable)",
        )
    parser.add_argument("--at", metavar="ISO-8601", help="validate at this time (default: now)")
    parser.add_argument(
        "--legacy-algorithms",
        action="store_true",
        help="accept SHA-1, RSA < 2048 and DSA (for old archives)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    add_revocation_options(parser)


def add_revocation_options(parser: argparse.ArgumentParser) -> None:
    """OCSP responses, whether revocation status is required, and HTTP fetching."""
    parser.add_argument(
        "--ocsp",
        action="extend",
        nargs="+",
        metavar="FILE",
        help="OCSP response(s), DER or PEM (repeatable)",
    )
    parser.add_argument(
        "--no-revocation-check",
        dest="check_revocation",
        action="store_false",
        help="do not check revocation (the report says so); by default every certificate "
        "below the anchor needs its status from --crl, --ocsp, the signature or --fetch",
    )
    parser.add_argument(
        "--fetch",
        action="store_true",
        help="fetch CRLs/OCSP over HTTP from the certificates' CRL DP and AIA (off by default)",
    )
    parser.add_argument(
        "--fetch-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="timeout of each HTTP request when fetching (default 10)",
    )
    parser.add_argument("--domain", default="default", help="name of the trust domain")


def trust_from(args: argparse.Namespace) -> TrustContext:
    from esign.certs.revinfo import parse_crl, parse_ocsp_response
    from esign.certs.trust import TrustContext

    crls = [parse_crl(read_file(p, limit=MAX_INPUT_FILE)) for p in args.crl or []]
    ocsps = [
        parse_ocsp_response(read_file(p, limit=MAX_INPUT_FILE))
        for p in getattr(args, "ocsp", None) or []
    ]
    return TrustContext(
        certificates_from(args.trust),
        intermediates=certificates_from(getattr(args, "certs", None)),
        crls=crls,
        ocsps=ocsps,
        legacy_algorithms=args.legacy_algorithms,
        check_revocation=getattr(args, "check_revocation", True),
        allow_fetching=getattr(args, "fetch", False),
        fetch_timeout=getattr(args, "fetch_timeout", 10.0),
        name=getattr(args, "domain", "default"),
    )


def emit(payload: dict[str, Any], text: str, as_json: bool) -> None:
    """Print a report as JSON or as text."""
    print(json.dumps(payload, indent=2) if as_json else text)


class LazyChoices:
    """Names for an option's ``choices``, read from the library the first time argparse
    checks a value or prints that option's help. Building the parser (``esign --help``,
    and every command) then imports none of the modules that own the names. Give the
    option a ``metavar``: argparse formats it when the option is added.
    """

    def __init__(self, names: Callable[[], Iterable[str]]) -> None:
        self._load = names
        self._names: list[str] | None = None

    def _sorted(self) -> list[str]:
        if self._names is None:
            self._names = sorted(self._load())
        return self._names

    def __contains__(self, value: object) -> bool:
        return value in self._sorted()

    def __iter__(self) -> Iterator[str]:
        return iter(self._sorted())

    def __len__(self) -> int:
        return len(self._sorted())


def _jurisdictions() -> Iterable[str]:
    from esign.certs.trusted_list import JURISDICTIONS

    return JURISDICTIONS


def jurisdiction_choices() -> LazyChoices:
    """The level-decision profiles (``esign.certs.trusted_list.JURISDICTIONS``), lazily."""
    return LazyChoices(_jurisdictions)


def add_level_options(parser: argparse.ArgumentParser) -> None:
    """The evidence a verifier brings for QUALIFIED: trusted lists and a jurisdiction."""
    parser.add_argument(
        "--trusted-list",
        action="extend",
        nargs="+",
        metavar="FILE",
        help="trusted list(s) of qualified issuers: ETSI TS 119 612 XML, esign JSON or PEM",
    )
    parser.add_argument(
        "--trusted-list-signer",
        action="extend",
        nargs="+",
        metavar="CERT",
        help="certificate(s) of the scheme operator that signs an ETSI trusted list",
    )
    parser.add_argument(
        "--qualified-issuer",
        action="extend",
        nargs="+",
        metavar="CERT",
        help="treat this CA as on the trusted list (repeatable)",
    )
    parser.add_argument(
        "--jurisdiction",
        choices=jurisdiction_choices(),
        metavar="NAME",
        default="eidas",
        help="profile for the qualified decision: %(choices)s (default: eidas)",
    )


def trusted_lists_from(args: argparse.Namespace) -> list[TrustedList]:
    """Every trusted list the options name, for the chosen jurisdiction."""
    from esign.certs.trusted_list import TrustedList, load_trusted_list

    signers = certificates_from(args.trusted_list_signer)
    lists = [
        load_trusted_list(
            path,
            jurisdiction=args.jurisdiction,
            signer_certificates=signers,
            verify_signature=True,
        )
        for path in args.trusted_list or []
    ]
    issuers = certificates_from(args.qualified_issuer)
    if issuers:
        lists.append(TrustedList(args.jurisdiction, issuers, name="--qualified-issuer"))
    return lists
