"""A run's ``logs.txt``: run events, warnings and what the flow's tools printed, line by line.

Warnings are loud: they also go to stderr (and are kept in ``warnings`` for the run record).
With ``stream`` every message is echoed to stderr as it is written. Messages are masked
(:func:`~promptflow_lite.masking.mask_secrets`), in the file and on stderr.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from promptflow_lite.masking import mask_secrets


class RunLog:
    def __init__(self, path: Path, *, stream: bool = False, echo: TextIO | None = None):
        self.path = path
        self.stream = stream
        self._echo = echo
        self.warnings: list[str] = []
        # a lone surrogate a tool printed is written as its \udXXX escape instead of failing the run
        self._file = open(path, "a", encoding="utf-8", errors="backslashreplace")  # noqa: SIM115 - closed by close()

    def info(self, message: str) -> None:
        self._write("INFO", message, echo=self.stream)

    def notice(self, message: str) -> None:
        """An info message always shown on stderr (e.g. the run's name, to cancel or resume it)."""
        self._write("INFO", message, echo=True)

    def warning(self, message: str) -> None:
        self.warnings.append(mask_secrets(message))
        self._write("WARNING", message, echo=True)

    def error(self, message: str) -> None:
        self._write("ERROR", message, echo=self.stream)

    def line_output(self, line_number: int | None, node_runs: dict[str, Any]) -> None:
        """What the nodes of a line printed, one log entry per printed line."""
        for run in node_runs.values():
            text = getattr(run, "logs", "") or ""
            for row in text.splitlines():
                where = f"{run.node} in line {line_number}" if line_number is not None else f"{run.node} (aggregation)"
                self._write("INFO", f"[{where}] stdout> {row}", echo=self.stream)

    def close(self) -> None:
        if not self._file.closed:
            try:
                self._file.close()
            except OSError:
                pass  # what it could not write is lost; it is closed all the same

    def _write(self, level: str, message: str, *, echo: bool) -> None:
        message = mask_secrets(message)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S %z")
        if not self._file.closed:
            try:
                self._file.write(f"{stamp} {os.getpid():>7} {level:<8} {message}\n")
                self._file.flush()
            except OSError as exc:  # e.g. a full disk: the journal, not the log, is the record of the lines
                self.close()
                self._echo_line("WARNING", f"Cannot write the run log {self.path} ({exc.strerror or exc}); "
                                           "its messages from here on are not kept.")
        if echo:
            self._echo_line(level, message)

    def _echo_line(self, level: str, message: str) -> None:
        stream = self._echo or sys.stderr
        prefix = "" if level == "INFO" else f"{level}: "
        stream.write(f"{prefix}{message}\n")
        stream.flush()
