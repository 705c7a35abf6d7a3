"""What a person watching a run sees: a live progress bar (only on a terminal) and the final summary."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from promptflow_lite.runs._model import Run


class Progress:
    """A tqdm bar on stderr (done/total, failed, lines/s, ETA); silent when stderr is not a TTY."""

    def __init__(self, total: int, *, done: int = 0, name: str = "", enabled: bool | None = None):
        if enabled is None:
            enabled = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
        self._bar = None
        self.failed = 0
        if enabled:
            from tqdm import tqdm

            # follow the terminal's size, unless it reports 0 (some CI and docker ttys): then a fixed size, since
            # tqdm draws no bar in 0 columns and hides every bar below row 0
            size = _reported_size()
            fixed = size is not None and 0 in size
            self._bar = tqdm(total=total, initial=done, desc=name, unit="line", file=sys.stderr,
                             dynamic_ncols=not fixed, ncols=(size[0] or _fallback_columns()) if fixed else None,
                             nrows=(size[1] or 24) if fixed else None, smoothing=0.05, leave=True)

    def update(self, ok: bool) -> None:
        if not ok:
            self.failed += 1
        if self._bar is not None:
            if not ok:
                self._bar.set_postfix_str(f"failed={self.failed}", refresh=False)
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _reported_size() -> tuple[int, int] | None:
    """``(columns, lines)`` as stderr's terminal reports them (None when it reports nothing)."""
    import os

    try:
        return tuple(os.get_terminal_size(sys.stderr.fileno()))
    except (AttributeError, OSError, ValueError):
        return None


def _fallback_columns() -> int:
    """``COLUMNS`` if set to a width, else 80: a terminal that reports 0 columns still gets a bar."""
    import os

    value = os.environ.get("COLUMNS", "")
    return int(value) if value.isdigit() and int(value) > 0 else 80


def summary(run: "Run") -> str:
    """The lines printed when a run ends."""
    lines = [f"Run:       {run.name}", f"Status:    {run.status}"]
    lines.append(f"Lines:     {run.completed_lines} completed, {run.failed_lines} failed, {run.total_lines} total")
    if run.duration is not None:
        rate = f" ({run.total_lines / run.duration:.1f} lines/s)" if run.duration > 0 and run.total_lines else ""
        lines.append(f"Duration:  {run.duration:.2f} s{rate}")
    tokens = run.tokens or {}
    if tokens.get("total_tokens"):
        lines.append(f"Tokens:    {tokens['total_tokens']} (prompt {tokens.get('prompt_tokens', 0)}, "
                     f"completion {tokens.get('completion_tokens', 0)})")
    if run.cached_lines:
        lines.append(f"Cache:     {run.cached_lines} of {run.total_lines} lines answered from the LLM cache")
    metrics = run.metrics
    if metrics:
        shown = ", ".join(f"{k}={_short(v)}" for k, v in list(metrics.items())[:8])
        lines.append(f"Metrics:   {shown}" + (" ..." if len(metrics) > 8 else ""))
    if run.error:
        message = run.error.get("message", "") if isinstance(run.error, dict) else str(run.error)
        lines.append(f"Error:     {message.splitlines()[0] if message else ''}")
    for warning in run.warnings[:5]:
        lines.append(f"Warning:   {warning}")
    lines.append(f"Output:    {run.output_path}")
    return "\n".join(lines)


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def format_duration(seconds: float | None) -> str:
    """``0.0070452`` → ``7.0 ms``, ``0.25`` → ``250 ms``, ``12.3456`` → ``12.35 s``; None → ``-``."""
    if seconds is None:
        return "-"
    if seconds < 0.01:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"
