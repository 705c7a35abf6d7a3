"""Wall time, CPU time and peak memory of a command's whole process tree.

CPU time is user + system time of the process and every descendant it waited for (``wait4``);
it is much less sensitive than wall time to other load on the machine.

Peak memory is the largest sum of RSS over the process and all its descendants, sampled from
``/proc`` every 20 ms, and never less than the ``ru_maxrss`` the kernel reports for the process
(which catches a short-lived process the sampler missed). Linux-only for the tree sum; elsewhere
only ``ru_maxrss`` is available.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_PROC = Path("/proc")


@dataclass
class Sample:
    """One measured execution."""

    seconds: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str
    cpu_seconds: float = 0.0  # user + system time of the process and its reaped descendants

    def check(self, what: str) -> "Sample":
        """Raise with the command's output tail when it failed."""
        if self.returncode != 0:
            tail = (self.stderr or self.stdout)[-3000:]
            raise RuntimeError(f"{what} exited with {self.returncode}:\n{tail}")
        return self


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (from ``/proc/<pid>/task/<tid>/children``)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in (_PROC / str(current) / "task").iterdir():
                try:
                    todo.extend(int(c) for c in (task / "children").read_text().split())
                except OSError:
                    pass
        except OSError:
            pass
    return found


def tree_rss_mb(pid: int) -> float:
    total = 0
    for p in descendants(pid):
        try:
            total += int((_PROC / str(p) / "statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            pass
    return total * _PAGE / 2**20


class TreeMemorySampler:
    """Samples a process tree's total RSS in a background thread; ``peak_mb`` is the maximum seen."""

    def __init__(self, pid: int, interval: float = 0.02):
        self.pid, self.interval, self.peak_mb = pid, interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._enabled = _PROC.is_dir()

    def __enter__(self) -> "TreeMemorySampler":
        if self._enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._enabled:
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, tree_rss_mb(self.pid))
            self._stop.wait(self.interval)


def run_measured(cmd: list[str], *, env: dict[str, str] | None = None, cwd: str | Path | None = None,
                 timeout: float = 3600, stdin_text: str | None = None) -> Sample:
    """Run ``cmd`` to completion; its wall time (from spawn to exit) and peak tree RSS."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL)
    out_chunks: dict[str, str] = {}
    readers = [threading.Thread(target=lambda n=n, s=s: out_chunks.__setitem__(n, s.read()), daemon=True)
               for n, s in (("out", proc.stdout), ("err", proc.stderr))]
    for r in readers:
        r.start()
    if stdin_text is not None:
        proc.stdin.write(stdin_text)
        proc.stdin.close()
    killer = threading.Timer(timeout, _kill_tree, args=(proc.pid,))
    killer.start()
    with TreeMemorySampler(proc.pid) as sampler:
        _, status, usage = os.wait4(proc.pid, 0)
    killer.cancel()
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    for r in readers:
        r.join()
    maxrss_mb = usage.ru_maxrss / 1024  # KiB on Linux
    return Sample(seconds, max(sampler.peak_mb, maxrss_mb), proc.returncode, out_chunks.get("out", ""),
                  out_chunks.get("err", ""), usage.ru_utime + usage.ru_stime)


def _kill_tree(pid: int) -> None:
    import signal

    for p in reversed(descendants(pid)):
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass
