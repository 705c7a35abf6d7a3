"""Finalising a big run in a second process while its lines run, so the finalisation adds no time after them.

:func:`~promptflow_lite.runs._finalize.finalize` writes a run's sorted outputs, inputs and promptflow's
line and node records from its journal after the last line, ~30 µs per node execution of a python
chain on one core. For a run of ``FOLLOW_FROM_LINES`` lines or more, :meth:`BackgroundFinalize.start`
starts a Python process running :func:`main` here, which follows the journal as it is written
(:class:`~promptflow_lite.runs._journal_follow.JournalFollower`) and writes the same files (same code,
same bytes) on the machine's other core; :meth:`~BackgroundFinalize.finish` tells it the run ended and
waits for it to catch up. Below that size, starting an interpreter (~50 ms) costs more than it saves; with
one core there is nothing to gain.

The protocol is one JSON line each way on the child's stdin/stdout: ``{"folder", "run", "start", "secrets"}``
at the start (``start``: the journal's size when the lines began; ``secrets``: those to mask in
``inputs.jsonl``), ``{"end": true, "secrets": [...learned since]}`` at the end, and the counts back.
Files are written under temporary names and moved into place at the end (an artifact chunk as soon
as its lines are final), so a killed run leaves nothing half-written: closing the child's stdin without
the end message (the run failed, or its process was killed) makes it remove its temporary files and
exit. When the child cannot vouch for its files (a record for a line it had passed, new secrets, a
crash) the run's files are finalised from the finished journal instead - in the child, or by the caller
when :meth:`~BackgroundFinalize.finish` returns None.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from typing import Any

from promptflow_lite.runs._store import RunFolder

FOLLOW_FROM_LINES = 1000  # a run with fewer lines is finalised after them, in its own process
_POLL_SECONDS = 0.01  # how long the child sleeps when the next line's record is not written yet
_CHECK_EVERY = 100  # lines between two looks at the channel while the child has records to catch up on
_BOOT = ("import sys; del sys.path[0]; sys.path.append(sys.argv[1]); "  # not the current folder: user files
         "from promptflow_lite.runs._finalize_process import main; sys.exit(main())")


class BackgroundFinalize:
    """The main process's handle on the finalising child (see the module docstring)."""

    def __init__(self, process: subprocess.Popen, secrets: int):
        self._process, self._secrets = process, secrets

    @classmethod
    def start(cls, folder: RunFolder, run_name: str, lines: int) -> "BackgroundFinalize | None":
        """Start finalising ``folder`` alongside its lines when the run has ``FOLLOW_FROM_LINES`` or more (and
        the journal is open: its size is where this execution's records start)."""
        if lines < FOLLOW_FROM_LINES or os.name != "posix" or _usable_cores() < 2:
            return None
        from promptflow_lite.masking import secret_count, secrets_since

        package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        try:
            process = subprocess.Popen([sys.executable, "-c", _BOOT, package_parent], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        except OSError:  # e.g. no more processes allowed: finalised after the lines, as a small run
            return None
        handle = cls(process, secret_count())
        handle._send({"folder": str(folder.path), "run": run_name, "start": folder.journal_file.stat().st_size,
                      "secrets": secrets_since(0)})
        return handle

    def finish(self) -> Any:
        """The run's :class:`~promptflow_lite.runs._finalize.Finalized` once its files are in place, None when
        the child could not write them (the caller finalises)."""
        from promptflow_lite.masking import secrets_since
        from promptflow_lite.runs._finalize import Finalized

        self._send({"end": True, "secrets": secrets_since(self._secrets)})
        self._close_input()
        answer = self._process.stdout.read()
        self._process.stdout.close()
        if self._process.wait() != 0:
            return None
        try:
            counts = json.loads(answer)
        except ValueError:
            return None
        return Finalized(counts["completed"], [tuple(failed) for failed in counts["failed"]], counts["cached"],
                         counts["tokens"])

    def abort(self) -> None:
        """Stop the child, which removes its temporary files (the run's files stay as they were)."""
        if self._process.poll() is None:
            self._close_input()
            self._process.terminate()
        self._process.wait()
        self._process.stdout.close()

    def _send(self, message: dict[str, Any]) -> None:
        try:
            self._process.stdin.write(json.dumps(message).encode() + b"\n")
            self._process.stdin.flush()
        except OSError:
            pass  # the child is gone: finish() says so

    def _close_input(self) -> None:
        try:
            self._process.stdin.close()
        except OSError:
            pass


def _usable_cores() -> int:
    """CPU cores this process may run on (a container's or ``taskset``'s limit included)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class _Abandoned(Exception):
    """The run's process closed the channel without saying the run ended (it failed, or was killed)."""


class _Channel:
    """The child's end of the protocol: messages from the run's process on stdin."""

    def __init__(self) -> None:
        self._buffer = b""
        self.end: dict[str, Any] | None = None

    def read(self, timeout: float | None) -> dict[str, Any] | None:
        """The next message, None if none came within ``timeout``; raises :class:`_Abandoned` at end of input."""
        while b"\n" not in self._buffer:
            if not select.select([0], [], [], timeout)[0]:
                return None
            chunk = os.read(0, 65536)
            if not chunk:
                raise _Abandoned()
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def wait(self, seconds: float = _POLL_SECONDS) -> bool:
        """Sleep until a message comes or ``seconds`` pass; whether the run has ended."""
        if self.end is None:
            self.end = self.read(seconds)
        return self.end is not None


def _terminated(signum: int, frame: Any) -> None:
    raise _Abandoned()


def main() -> int:
    """The child: finalise the run named on stdin as its journal grows; print the counts."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C cancels the run, which then still needs its files
    signal.signal(signal.SIGTERM, _terminated)
    from promptflow_lite.masking import forget_secrets, register_secrets
    from promptflow_lite.runs._finalize import FinalFiles, finalize
    from promptflow_lite.runs._journal_follow import JournalFollower

    channel = _Channel()
    try:
        start = channel.read(None)
    except _Abandoned:
        return 1
    forget_secrets()  # exactly the run's process's secrets, not this environment's
    register_secrets(start["secrets"])
    folder, run_name = RunFolder(start["folder"]), start["run"]
    follower = JournalFollower(folder.journal_file, start["start"])
    before = follower.before
    repeats = before.has_repeats or before.completed_count < len(before)  # a line that failed runs again
    files = FinalFiles(folder, run_name, sorted_journal=repeats)
    try:
        for count, entry in enumerate(follower.entries((number for number, _ in folder.read_inputs()), channel.wait)):
            files.add(entry)
            if count % _CHECK_EVERY == 0:
                channel.wait(0)  # a child that lags behind a killed run stops now, not at the end of its backlog
        new_secrets = channel.end["secrets"]
        if new_secrets or not follower.faithful or follower.has_repeats != repeats:
            files.abort()
            register_secrets(new_secrets)
            summary = finalize(folder, run_name)
        else:
            summary = files.commit()
    except BaseException:
        files.abort()
        return 1
    finally:
        follower.close()
    json.dump({"completed": summary.completed, "failed": summary.failed, "cached": summary.cached,
               "tokens": summary.tokens}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
