"""The ``esign`` command: a thin layer over the library.

Exit codes: 0 valid, 1 processed but not valid, 2 cannot be processed. Bad input ends in
one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from esign.cli import (
    batch_cmds,
    ca_cmds,
    cosign_cmds,
    csr_cmds,
    demo,
    envelope_cmds,
    extend_cmds,
    key_cmds,
    signing_cmds,
    trust_cmds,
    trusted_list_cmds,
    tsa_cmds,
)
from esign.cli.common import (
    EXIT_INVALID,
    EXIT_UNPROCESSABLE,
    add_force_options,
    refuse_overwrite,
)
from esign.errors import DecryptionError, EsignError, NoMatchingRecipientError

#: Each module registers its subcommands; a new command is one module and one entry here.
COMMAND_MODULES = (
    demo,
    key_cmds,
    csr_cmds,
    ca_cmds,
    signing_cmds,
    cosign_cmds,
    extend_cmds,
    envelope_cmds,
    batch_cmds,
    tsa_cmds,
    trusted_list_cmds,
)

# ``esign cert verify`` lives with the trust code; the ``cert`` group with the CA commands.
if trust_cmds.add_cert_verify not in ca_cmds.CERT_SUBCOMMAND_HOOKS:
    ca_cmds.CERT_SUBCOMMAND_HOOKS.append(trust_cmds.add_cert_verify)

#: Errors that mean "processed, but the answer is no" (exit 1) rather than "cannot process".
NOT_VALID_ERRORS: tuple[type[EsignError], ...] = (DecryptionError, NoMatchingRecipientError)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One line, as for every other failure; the usage is one --help away.
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(EXIT_UNPROCESSABLE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="esign", description="Electronic signatures on standard formats.")
    from esign import __version__

    parser.add_argument("--version", action="version", version=f"esign {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for module in COMMAND_MODULES:
        module.register(subparsers)
    add_force_options(parser)
    return parser


class _PipeGuard:
    """stdout that turns a closed pipe (``esign verify ... | head``) into a quiet end.

    The reader has what it wanted; the command still finishes and exits with its own
    code. Later output, and Python's final flush, go to /dev/null instead of raising.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def _silence(self) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self._stream.fileno())
        os.close(devnull)

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._silence()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._silence()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def main(argv: Sequence[str] | None = None) -> int:
    stdout = sys.stdout
    sys.stdout = _PipeGuard(stdout)
    try:
        return _main(argv)
    finally:
        with contextlib.suppress(BrokenPipeError):
            sys.stdout.flush()
        sys.stdout = stdout


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        refuse_overwrite(args)
        code: int = args.func(args)
    except NOT_VALID_ERRORS as exc:
        print(f"esign: not valid: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except EsignError as exc:
        print(f"esign: error: {exc}", file=sys.stderr)
        return EXIT_UNPROCESSABLE
    except OSError as exc:
        print(
            f"esign: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
            file=sys.stderr,
        )
        return EXIT_UNPROCESSABLE
    except KeyboardInterrupt:
        print("esign: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
