"""Progress that suits where it goes: a tqdm bar on a terminal, a line per few percent in a log."""

from __future__ import annotations

import sys
import time
from typing import Self, TextIO

from tqdm import tqdm

__all__ = ["LineProgress", "progress"]


class LineProgress:
    """tqdm's `update`/`close`/context-manager API, printing whole lines: one each time another
    `step_pct` percent is done (or every `every` items when the total is unknown) and a last one
    on close — no carriage-return frames piling up into one long line of a log file."""

    def __init__(
        self,
        desc: str = "",
        total: int | None = None,
        unit: str = "it",
        file: TextIO | None = None,
        step_pct: float = 10.0,
        every: int = 10_000,
    ):
        self.desc, self.total, self.unit = desc, total, unit.strip() or "it"
        self.file = file if file is not None else sys.stderr
        self.step = total * step_pct / 100 if total else float(every)
        self.n = 0
        self._next = self.step
        self._t0 = time.monotonic()
        self._closed = False

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.n >= self._next and not (self.total and self.n >= self.total):  # close() says 100 %
            self._print()
            while self._next <= self.n:
                self._next += self.step

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._print(done=True)

    def _print(self, done: bool = False) -> None:
        elapsed = time.monotonic() - self._t0
        rate = f", {self.n / elapsed:,.0f} {self.unit}/s" if elapsed > 0 else ""
        head = f"{self.desc}: " if self.desc else ""
        if self.total:
            count = f"{100 * self.n / self.total:3.0f}% ({self.n:,}/{self.total:,} {self.unit})"
        else:
            count = f"{self.n:,} {self.unit}"
        tail = " done" if done else ""
        print(f"{head}{count} in {elapsed:.1f} s{rate}{tail}", file=self.file, flush=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Silent:
    """The same API, doing nothing (`--no-progress`)."""

    n = 0

    def update(self, n: int = 1) -> None:
        self.n += n

    def close(self) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        pass


def progress(
    desc: str = "",
    total: int | None = None,
    unit: str = "it",
    file: TextIO | None = None,
    disable: bool = False,
    step_pct: float = 10.0,
    every: int = 10_000,
):
    """A tqdm bar when `file` (default stderr) is a terminal, else a `LineProgress`; `disable`
    shows nothing. All three have `update(n)`, `close()` and work as context managers."""
    stream = file if file is not None else sys.stderr
    if disable:
        return _Silent()
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return tqdm(desc=desc or None, total=total, unit=unit, file=stream, mininterval=1.0)
    return LineProgress(desc, total, unit, stream, step_pct=step_pct, every=every)
