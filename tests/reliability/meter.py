"""Wall time and peak memory of a block: this process's growth and its children's (ffmpeg).

Both are sampled with psutil every 20 ms. Children that are still a copy of this process
(between fork and exec) are not counted: their RSS is this process's pages, not theirs. For the
same reason ``RUSAGE_CHILDREN``'s ``ru_maxrss`` is useless here (it keeps the pre-exec RSS of
a forked copy of a large test process).
"""

from __future__ import annotations

import threading
import time

import psutil

MB = 1024 * 1024


class Meter:
    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.seconds = 0.0
        self.self_growth = 0  # bytes this process's RSS grew above its start
        self.children_peak = 0  # bytes: the largest total RSS of the child processes
        self._stop = threading.Event()

    def _sample(self) -> None:
        process = psutil.Process()
        while True:
            try:
                rss = process.memory_info().rss
                kids = 0
                for child in process.children(recursive=True):
                    try:
                        if child.name() != self._name:
                            kids += child.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                rss = kids = 0
            self.self_growth = max(self.self_growth, rss - self._base)
            self.children_peak = max(self.children_peak, kids)
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> Meter:
        self._base = psutil.Process().memory_info().rss
        self._name = psutil.Process().name()
        self._started = time.perf_counter()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._started
        self._stop.set()
        self._thread.join()

    def line(self) -> str:
        return (
            f"{self.seconds:.1f} s, this process +{self.self_growth / MB:.0f} MB, "
            f"decoders {self.children_peak / MB:.0f} MB"
        )
