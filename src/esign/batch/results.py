"""Batch results: one JSON line per item, appended as items finish, read back to resume.

A run killed half-way leaves every finished item on disk; the next run with the same
output skips them (an item is known by its ``path``). A torn last line (the process died
while writing it) is cut off before appending. With pyarrow installed, the JSON Lines are
also written as Parquet at the end, for analysis tools.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from esign.errors import MalformedInputError


def done_paths(out: Path) -> set[str]:
    """Items already in ``out`` (after cutting off a torn last line)."""
    if not out.exists():
        return set()
    _cut_torn_line(out)
    done: set[str] = set()
    with out.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            try:
                done.add(str(json.loads(line)["path"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise MalformedInputError(
                    f"{out}:{number}: not a batch result line; refusing to append to it"
                ) from exc
    return done


def _cut_torn_line(out: Path) -> None:
    with out.open("rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        block = min(size, 1 << 20)
        handle.seek(size - block)
        tail = handle.read(block)
        keep = size - block + tail.rfind(b"\n") + 1 if b"\n" in tail else 0
        handle.truncate(keep)


class ResultWriter:
    """Appends rows as JSON lines; flushed after every chunk so progress survives a kill."""

    def __init__(self, out: Path) -> None:
        out.parent.mkdir(parents=True, exist_ok=True)
        self.out = out
        self._file: TextIO = out.open("a", encoding="utf-8")

    def write(self, rows: Iterable[dict[str, Any]]) -> None:
        self.write_text("".join(json.dumps(r, default=str) + "\n" for r in rows))

    def write_text(self, lines: str) -> None:
        """Append JSON lines already encoded (by a worker)."""
        self._file.write(lines)
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


#: Parquet columns: the ones every row has; the full report stays in the JSON Lines.
_COLUMNS = ("path", "data", "valid", "indication", "subindication", "level", "processed")


def write_parquet(jsonl: Path, target: Path) -> Path | None:
    """Write ``jsonl`` as Parquet (flat columns + the signer + errors as JSON); None without
    pyarrow."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return None
    columns: dict[str, list[Any]] = {name: [] for name in _COLUMNS}
    extra: dict[str, list[Any]] = {
        "signer_subject": [],
        "signer_issuer": [],
        "signer_serial": [],
        "errors": [],
    }
    with jsonl.open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            for name in _COLUMNS:
                value = row.get(name)
                columns[name].append(None if value is None else value)
            signer = row.get("signer") or {}
            extra["signer_subject"].append(signer.get("subject"))
            extra["signer_issuer"].append(signer.get("issuer"))
            serial = signer.get("serial")
            extra["signer_serial"].append(None if serial is None else str(serial))
            extra["errors"].append(json.dumps(row.get("errors") or []))
    table = pa.table(
        {
            **{k: pa.array(v, type=pa.string()) for k, v in columns.items() if k not in
               ("valid", "processed")},
            "valid": pa.array(columns["valid"], type=pa.bool_()),
            "processed": pa.array(columns["processed"], type=pa.bool_()),
            **{k: pa.array(v, type=pa.string()) for k, v in extra.items()},
        }
    )  # fmt: skip
    pq.write_table(table, target)
    return target
