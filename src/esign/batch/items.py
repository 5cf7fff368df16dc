"""What a batch works on: signature or envelope files, found in folders, globs or manifests."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from esign.errors import MalformedInputError

#: File names a folder scan treats as signatures (``batch verify``) ...
SIGNATURE_SUFFIXES = (".p7s", ".p7m", ".p7", ".sig", ".cms", ".eml", ".pem", ".der")
#: ... and as envelopes (``batch open``).
ENVELOPE_SUFFIXES = (".p7m", ".p7e", ".cms", ".env")


@dataclass(frozen=True)
class BatchItem:
    """One unit of work: a signature (or envelope) file and, for a detached signature, its data.

    ``path`` is also the item's identity in the results (what a resumed run skips).
    """

    path: str
    data: str | None = None


def _detached_data(signature: str) -> str | None:
    """``report.pdf.p7s`` signs ``report.pdf`` when that file sits next to it."""
    stem, suffix = os.path.splitext(signature)
    if suffix.lower() in (".p7s", ".sig") and os.path.isfile(stem):
        return stem
    return None


def collect_items(
    paths: Iterable[str | os.PathLike[str]],
    *,
    manifest: str | os.PathLike[str] | None = None,
    suffixes: tuple[str, ...] = SIGNATURE_SUFFIXES,
    pair_detached: bool = True,
) -> Iterator[BatchItem]:
    """Expand files, folders (recursively, files named with ``suffixes``) and globs.

    A manifest holds one item per line: ``PATH`` or ``PATH<TAB>DATA`` (blank lines and
    ``#`` comments skipped; relative paths are relative to the manifest). A file named
    ``X.p7s`` / ``X.sig`` is paired with ``X`` as its detached data when ``X`` exists.
    Missing paths are not skipped silently: they raise :class:`MalformedInputError`.
    """
    seen: set[str] = set()

    def item(path: str, data: str | None = None) -> Iterator[BatchItem]:
        if path in seen:
            return
        seen.add(path)
        if data is None and pair_detached:
            data = _detached_data(path)
        yield BatchItem(path, data)

    for raw in paths:
        text = os.fspath(raw)
        if os.path.isdir(text):
            for root, dirs, files in os.walk(text):
                dirs.sort()
                for name in sorted(files):
                    if name.lower().endswith(suffixes):
                        yield from item(os.path.join(root, name))
        elif os.path.isfile(text):
            yield from item(text)
        elif glob.has_magic(text):
            matches = [f for f in sorted(glob.glob(text, recursive=True)) if os.path.isfile(f)]
            if not matches:
                raise MalformedInputError(f"no file matches {text}")
            for found in matches:
                yield from item(found)
        else:
            raise MalformedInputError(f"no such file, folder or glob match: {text}")
    if manifest is not None:
        base = Path(manifest).parent
        with open(manifest, encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                line = line.rstrip("\r\n")
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                fields = line.split("\t")
                if len(fields) > 2:
                    raise MalformedInputError(
                        f"{manifest}:{number}: expected PATH or PATH<TAB>DATA"
                    )
                path = str(base / fields[0])
                data = str(base / fields[1]) if len(fields) == 2 and fields[1] else None
                yield from item(path, data)
