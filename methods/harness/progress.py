"""Progress of a training job, in its log: a line every few percent of the run or every minute, whichever comes
first, with the iteration, the measured rate, the time left and the latest learning-curve metrics:

    progress joint_w two_circle/clean seed 0: 7500/30000 (25%), 34.1 it/s, 11 min 00 s left; hsr 0.71, kld 0.83

`python -m methods.harness.status results/<profile>` reads these lines from every job's log for the DAG's
progress as a whole.
"""
from __future__ import annotations

import sys
import time

PREFIX = "progress "
EVERY_FRACTION = 0.05  # a line at least every 5% of the run
EVERY_SECONDS = 60.0  # … and at least every minute
SHOWN = ("hsr", "kld", "auc", "mmd", "fid_classifier")  # curve metrics a line shows, where the run has them


def duration(seconds: float) -> str:
    """"1 h 02 min", "11 min 00 s" or "42 s"."""
    s = int(round(max(seconds, 0.0)))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s} s"


class Progress:
    """Prints a progress line for a job's runs to `stream` (the job's log) as the loop calls `update`."""

    def __init__(self, name: str, start: int, total: int, stream=None, clock=time.monotonic):
        self.name, self.start, self.total = name, start, total
        self.stream, self.clock = stream or sys.stderr, clock
        self.t0 = self.last_time = clock()
        self.step = max(1, int(total * EVERY_FRACTION))
        self.last_it = start

    def update(self, it: int, metrics: dict | None = None) -> str | None:
        """The line for iteration `it` when one is due (every few percent, every minute, the last iteration)."""
        now = self.clock()
        if not (it - self.last_it >= self.step or now - self.last_time >= EVERY_SECONDS or it == self.total):
            return None
        self.last_it, self.last_time = it, now
        rate = (it - self.start) / max(now - self.t0, 1e-9)
        left = (self.total - it) / rate if rate > 0 else float("inf")
        shown = ", ".join(f"{k} {v:.3g}" for k, v in (metrics or {}).items() if k in SHOWN and v == v)
        line = (f"{PREFIX}{self.name}: {it}/{self.total} ({it / self.total:.0%}), {rate:.1f} it/s, "
                f"{duration(left) if left != float('inf') else '?'} left" + (f"; {shown}" if shown else ""))
        print(line, file=self.stream, flush=True)
        return line
