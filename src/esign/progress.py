"""The one progress bar: a line redrawn on a terminal's stderr, nothing when it is piped.

Used for bytes (``esign seal``/``open``/``sign``/``verify`` of large files) and for items
(``esign batch``). It draws only when the stream is a terminal, at most ten times a
second, and colours the bar unless ``NO_COLOR`` is set (https://no-color.org) or the
terminal is ``dumb``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any, BinaryIO, TextIO

MIB = 1 << 20
#: Files smaller than this finish before a bar would be seen: no bar.
MIN_BYTES = 1 * MIB
_WIDTH = 30
_GREEN = "\033[32m"
_RESET = "\033[0m"


def colour_wanted(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set to anything."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    return _is_terminal(stream)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or foreign stream: treat as a pipe
        return False


class Progress:
    """Work done of a total (items or bytes), with the rate."""

    def __init__(
        self,
        total: int,
        *,
        label: str = "",
        unit: str = "items",
        enabled: bool | None = None,
        stream: TextIO | None = None,
    ) -> None:
        self.stream = stream or sys.stderr
        self.enabled = _is_terminal(self.stream) if enabled is None else enabled
        self.colour = self.enabled and colour_wanted(self.stream)
        self.total = total
        self.label = label
        self.unit = unit
        self.done = 0
        self._start = time.monotonic()
        self._drawn = 0.0
        self._closed = False

    def advance(self, count: int) -> None:
        """``count`` more done."""
        self.update(self.done + count)

    def update(self, done: int) -> None:
        """``done`` so far (what a streaming reader reports); closes at the total."""
        self.done = done
        now = time.monotonic()
        if self.enabled and (now - self._drawn >= 0.1 or self.done >= self.total):
            self._drawn = now
            self._draw(now)
        if self.done >= self.total > 0:
            self.close()

    def _draw(self, now: float) -> None:
        filled = _WIDTH * min(self.done, self.total) // max(self.total, 1)
        bar = "#" * filled
        if self.colour:
            bar = f"{_GREEN}{bar}{_RESET}"
        bar += "." * (_WIDTH - filled)
        seconds = max(now - self._start, 1e-9)
        if self.unit == "bytes":
            amount = f"{self.done / MIB:.1f}/{self.total / MIB:.1f} MiB"
            rate = f"{self.done / MIB / seconds:,.1f} MiB/s"
        else:
            amount = f"{self.done}/{self.total}"
            rate = f"{self.done / seconds:,.0f} {self.unit}/s"
        fraction = min(self.done / max(self.total, 1), 1.0)
        label = f"{self.label} " if self.label else ""
        self.stream.write(f"\r{label}[{bar}] {fraction:4.0%} {amount}  {rate} ")
        self.stream.flush()

    def close(self) -> None:
        """Draw the last state and end the line (once)."""
        if self.enabled and not self._closed:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()
        self._closed = True


def byte_progress(
    total: int, label: str, *, stream: TextIO | None = None
) -> Callable[[int], None] | None:
    """A callback taking the bytes done so far, or None when no bar is due (piped, small)."""
    stream = stream or sys.stderr
    if total < MIN_BYTES or not _is_terminal(stream):
        return None
    return Progress(total, label=label, unit="bytes", enabled=True, stream=stream).update


class ProgressReader:
    """A binary file whose reads report the bytes read so far to ``progress``.

    Lets a bar follow any code that reads a file object (hashing for a signature, a
    verifier reading detached data) without that code knowing about bars.
    """

    def __init__(self, raw: BinaryIO, progress: Callable[[int], None]) -> None:
        self._raw = raw
        self._progress = progress
        self._done = 0

    def _count(self, n: int) -> None:
        if n:
            self._done += n
            self._progress(self._done)

    def read(self, size: int = -1) -> bytes:
        chunk = self._raw.read(size)
        self._count(len(chunk))
        return chunk

    def readinto(self, buffer: bytearray | memoryview) -> int:
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        self._count(n or 0)
        return n or 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


def reading_with_progress(handle: BinaryIO, label: str) -> BinaryIO:
    """``handle`` itself, or a :class:`ProgressReader` over it when a bar is due."""
    try:
        size = os.fstat(handle.fileno()).st_size
    except (OSError, AttributeError, ValueError):
        return handle
    progress = byte_progress(size, label)
    if progress is None:
        return handle
    return ProgressReader(handle, progress)  # type: ignore[return-value]
