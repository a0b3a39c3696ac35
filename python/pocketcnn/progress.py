"""Training progress for ``fit``: a live bar on a terminal, one line per epoch otherwise.

verbose: 0 = silent; 1 = a live bar per epoch when the stream is a terminal, else (logs, CI,
notebooks writing to files) one line per epoch; 2 = always one line per epoch; 'auto' = 1.
The bar shows batches done, loss and metrics so far, images per second and the time left.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO

_BAR_WIDTH = 24
_REFRESH_SECONDS = 0.1


def _format_time(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _format_logs(logs: dict[str, float]) -> str:
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


class EpochProgress:
    """Reports one epoch: ``update(batch, samples_seen, logs)`` after each batch, ``end(logs)``."""

    def __init__(
        self,
        epoch: int,
        epochs: int,
        batches: int,
        verbose=1,
        stream: TextIO | None = None,
    ):
        self.stream = sys.stdout if stream is None else stream
        if verbose == "auto":
            verbose = 1
        if verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.live = verbose == 1 and bool(isatty())
        self.quiet = verbose == 0
        self.epoch, self.epochs, self.batches = epoch, epochs, batches
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._width = 0
        self.samples = 0

    def _prefix(self) -> str:
        return f"Epoch {self.epoch + 1}/{self.epochs}"

    def update(self, batch: int, samples: int, logs: dict[str, float]) -> None:
        """After batch ``batch`` (from 0); ``samples`` seen so far this epoch."""
        self.samples = samples
        if not self.live:
            return
        now = time.perf_counter()
        done = batch + 1
        if done < self.batches and now - self._last_draw < _REFRESH_SECONDS:
            return
        self._last_draw = now
        elapsed = now - self.start
        filled = int(_BAR_WIDTH * done / max(self.batches, 1))
        bar = "=" * filled + (">" if filled < _BAR_WIDTH else "") + "." * (_BAR_WIDTH - filled - 1)
        rate = samples / elapsed if elapsed > 0 else 0.0
        eta = elapsed / done * (self.batches - done)
        line = (
            f"{self._prefix()} {done}/{self.batches} [{bar[:_BAR_WIDTH]}] "
            f"{_format_logs(logs)} - {rate:,.0f} img/s - ETA {_format_time(eta)}"
        )
        # A live line must fit the terminal: a wrapped line cannot be redrawn with \r.
        columns = shutil.get_terminal_size((100, 24)).columns
        self._draw(line[: max(columns - 1, 20)])

    def _draw(self, line: str) -> None:
        pad = max(0, self._width - len(line))
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()
        self._width = len(line)

    def end(self, logs: dict[str, float]) -> None:
        """The epoch's final line (with validation metrics when there are any)."""
        if self.quiet:
            return
        elapsed = time.perf_counter() - self.start
        rate = self.samples / elapsed if elapsed > 0 else 0.0
        line = (
            f"{self._prefix()} {self.batches}/{self.batches} - {_format_time(elapsed)} - "
            f"{rate:,.0f} img/s - {_format_logs(logs)}"
        )
        if self.live:
            self._draw(line)
            self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def abort(self) -> None:
        """Ends a live bar's line when training stops with an error."""
        if self.live and self._width:
            self.stream.write("\n")
            self.stream.flush()


__all__ = ["EpochProgress"]
