"""Where the hooks' frames go: to a writer process through a pipe, else to a writer thread.

:meth:`FrameSink.send` only appends the frame to a deque. A pump thread moves the frames out
in batches: written to the stdin of a writer process (:func:`.writer.main`), so rendering and
SQLite run on another core instead of contending for this process's GIL; or, when that
process cannot start (or ``PFL_TRACE_WRITER=thread``), handed to a :class:`.writer.TraceWriter`
in the pump thread itself. :meth:`FrameSink.flush` returns once everything sent before is
stored (the writer acknowledges a ``FLUSH`` frame). The writer process exits when the pipe
closes: at :meth:`FrameSink.close` (which waits for it), or when this process dies.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections import deque
from typing import Any, Callable

from promptflow_lite.masking import secret_count, secrets_since
from promptflow_lite.tracing._write.frames import config_frame, flush_frame, secret_frame, unpack

_log = logging.getLogger(__name__)
_INTERVAL = 0.1  # seconds between batches when frames trickle in
_WAKE_BYTES = 512 * 1024  # a backlog this large wakes the pump at once
_PIPE_BYTES = 1024 * 1024  # the pipe to the writer process holds a woken pump's batch: its write seldom waits
_BATCH_BYTES = 4 * 1024 * 1024  # at most this much per write (per transaction without a writer process)
_START_TIMEOUT = 30.0
_BOOT = ("import sys; del sys.path[0]; sys.path.append(sys.argv[1]); "  # not the current folder: user files
         "from promptflow_lite.tracing._write.writer import main; main()")


class FrameSink:
    """Takes frames from any thread; ``config`` describes the writer process (``CONFIG`` frame),
    ``local_writer()`` makes the in-process :class:`.writer.TraceWriter` used without one."""

    def __init__(self, config: dict[str, Any], local_writer: Callable[[], Any], use_process: bool = True):
        self._config, self._local_writer, self._use_process = config, local_writer, use_process
        self._reset()

    def _reset(self) -> None:
        self._frames: deque = deque()
        self._backlog = 0
        self._secrets = 0
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._channel: Any = None

    @property
    def process(self) -> subprocess.Popen | None:
        """The writer process, while there is one."""
        return getattr(self._channel, "process", None)

    def send(self, frame: bytes) -> None:
        if self._thread is None:
            self.start()
        if secret_count() != self._secrets:
            self._secrets = add_secret_frames(self._frames, self._secrets)
        self._frames.append(frame)
        self._backlog += len(frame)
        if self._backlog > _WAKE_BYTES:
            self._backlog = 0
            self._wake.set()

    def start(self) -> None:
        """Start the pump (and the writer process); ``send`` does it when needed."""
        with self._lock:
            if self._thread is None:
                self._closing = False
                self._thread = threading.Thread(target=self._pump, name="pfl-trace-pump", daemon=True)
                self._thread.start()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every frame sent so far is stored; False on timeout."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            return True
        done = threading.Event()
        self._frames.append(done)
        self._wake.set()
        return done.wait(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Store what was sent, stop the pump and the writer process."""
        thread = self._thread
        if thread is not None:
            self._closing = True
            self._wake.set()
            thread.join(timeout)
        self._thread = None

    def after_fork(self) -> None:
        """In a forked child: forget the parent's pump and writer (the child starts its own)."""
        if self._channel is not None:
            self._channel.forget()
        self._reset()

    # the pump thread ----------------------------------------------------------------------
    def _pump(self) -> None:
        channel = self._channel = self._open()
        while True:
            self._wake.wait(_INTERVAL)
            self._wake.clear()
            while self._frames:
                channel = self._move(channel)
            if self._closing and not self._frames:
                break
        channel.close()

    def _move(self, channel: Any) -> Any:
        """Deliver up to ``_BATCH_BYTES`` of frames, answering the flush requests met on the way."""
        batch: list[bytes] = []
        size = 0
        while self._frames and size < _BATCH_BYTES:
            item = self._frames.popleft()
            if type(item) is bytes:
                batch.append(item)
                size += len(item)
            else:  # a flush request
                channel = self._deliver(channel, batch, sync=True)
                batch = []
                item.set()
        return self._deliver(channel, batch) if batch else channel

    def _open(self) -> Any:
        if self._use_process:
            try:
                return _Process(self._config)
            except Exception as exc:  # noqa: BLE001 - no python to start, no fork allowed...
                _log.info("Writing traces in this process (the writer process did not start: %s).", exc)
        return _Local(self._local_writer())

    def _deliver(self, channel: Any, batch: list[bytes], sync: bool = False) -> Any:
        try:
            channel.deliver(batch, sync)
            return channel
        except OSError as exc:  # the writer process died: what it had not stored is lost
            _log.warning("The trace writer process stopped (%s); writing traces in this process.", exc)
            channel.kill()
            local = self._channel = _Local(self._local_writer())
            return local


def add_secret_frames(frames: Any, known: int) -> int:
    """Append a ``SECRET`` frame to ``frames`` for each secret remembered since the first ``known``;
    returns how many are known now. The writer must know a secret before a frame may hold it."""
    if secret_count() != known:
        for secret in secrets_since(known):
            frames.append(secret_frame(secret))
            known += 1
    return known


class _Local:
    """Writes batches with a :class:`.writer.TraceWriter` in the pump thread."""

    process = None

    def __init__(self, writer: Any):
        self.writer = writer

    def deliver(self, batch: list[bytes], sync: bool = False) -> None:
        if batch or sync:
            self.writer.write(unpack(b"".join(batch))[0])

    def close(self) -> None:
        pass  # the store and span processors belong to the tracing setup

    kill = forget = close


class _Process:
    """A writer process fed through a pipe (see :mod:`.writer`)."""

    def __init__(self, config: dict[str, Any]):
        package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        self.process = subprocess.Popen([sys.executable, "-c", _BOOT, package_parent], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, bufsize=0)
        _widen(self.process.stdin.fileno())
        self._flushes = 0
        try:
            self._write(config_frame(config))
            self._await(0, _START_TIMEOUT)
        except BaseException:
            self.kill()
            raise

    def deliver(self, batch: list[bytes], sync: bool = False) -> None:
        if sync:
            self._flushes += 1
            batch = [*batch, flush_frame(self._flushes)]
        if batch:
            self._write(b"".join(batch))
        if sync:
            self._await(self._flushes)

    def close(self, timeout: float = 60.0) -> None:
        """Close the pipe; the writer stores what it has and exits."""
        self.forget()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            _log.warning("The trace writer process did not finish in %.0f s; stopping it.", timeout)
            self.kill()

    def kill(self) -> None:
        """Stop the writer now (it died or hangs) and reap it."""
        self.forget()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def forget(self) -> None:
        """Close our ends of the pipes (a forked child must do only this: the writer is its parent's)."""
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def _write(self, data: bytes) -> None:
        view, fd = memoryview(data), self.process.stdin.fileno()
        while view:
            view = view[os.write(fd, view):]

    def _await(self, number: int, timeout: float | None = None) -> None:
        """Read acknowledgements until ``number`` arrives."""
        fd = self.process.stdout.fileno()
        while True:
            if timeout is not None and not _readable(fd, timeout):
                raise OSError(f"no answer in {timeout:.0f} s")
            data = b""
            while len(data) < 8:
                chunk = os.read(fd, 8 - len(data))
                if not chunk:
                    raise OSError(f"it exited with code {self.process.poll()}")
                data += chunk
            if int.from_bytes(data, "little") == number:
                return


def _widen(fd: int) -> None:
    """Make the pipe at ``fd`` hold ``_PIPE_BYTES`` where the system allows (Linux): a pump's write that
    fits returns at once instead of waiting for the writer in pieces (a thread switch each)."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
    except (ImportError, AttributeError, OSError):  # another system, or above the system's limit
        pass


def _readable(fd: int, timeout: float) -> bool:
    try:
        import select

        return bool(select.select([fd], [], [], timeout)[0])
    except (OSError, ValueError):  # no select on pipes (Windows): block instead
        return True
