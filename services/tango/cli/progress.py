"""Progress on stderr: a bar on a terminal, sparse lines otherwise. Never on stdout (reserved for JSON)."""
from __future__ import annotations

import sys
import time


class ProgressReporter:
    def __init__(self, label: str):
        self.label = label
        self.tty = sys.stderr.isatty()
        self._bar = None
        self._stage = None
        self._last = 0.0
        self._printed: tuple = (None, None, None)

    def update(self, stage: str, done: int, total: int) -> None:
        if self.tty:
            from tqdm import tqdm

            if self._bar is None or stage != self._stage:
                self.close()
                self._bar = tqdm(total=total or None, desc=f"{self.label}: {stage}", file=sys.stderr, leave=False)
                self._stage = stage
            self._bar.total = total or None
            self._bar.n = done
            self._bar.refresh()
        elif (stage, done, total) != self._printed and (
                time.monotonic() - self._last > 2.0 or done == total or self._printed[0] != stage):
            self._last, self._printed = time.monotonic(), (stage, done, total)
            print(f"{self.label}: {stage} {done}/{total}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
