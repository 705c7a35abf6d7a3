"""A measured figure (one table row): per-tool runs, peak memory, ratio and target check."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

TOOLS = ("pfl", "pf")
MEMORY_TARGET = 4.0  # promptflow's peak memory / ours: "peak memory <= 1/4"


@dataclass
class Figure:
    """``values[tool]`` holds one number per run; ``better`` says which direction wins.

    ``target`` is ``("ratio", X)``: promptflow_lite at least X times better than promptflow, or
    ``("at_most", X)``: promptflow_lite's own value at most X (e.g. time / physical limit).
    """

    suite: str
    key: str
    title: str
    unit: str
    better: str = "lower"
    values: dict[str, list[float]] = field(default_factory=dict)
    memory: dict[str, list[float]] = field(default_factory=dict)
    target: tuple[str, float] | None = None
    memory_target: bool = True
    note: str = ""
    skipped: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, tool: str, value: float, peak_mb: float | None = None) -> None:
        self.values.setdefault(tool, []).append(value)
        if peak_mb is not None:
            self.memory.setdefault(tool, []).append(peak_mb)

    def summary(self, tool: str) -> dict[str, float] | None:
        return _summary(self.values.get(tool))

    def memory_summary(self, tool: str) -> dict[str, float] | None:
        return _summary(self.memory.get(tool))

    def ratio(self) -> float | None:
        """How many times better promptflow_lite is than promptflow (> 1: better)."""
        ours, theirs = self.summary("pfl"), self.summary("pf")
        if not ours or not theirs or not ours["median"] or not theirs["median"]:
            return None
        if self.better == "lower":
            return theirs["median"] / ours["median"]
        return ours["median"] / theirs["median"]

    def memory_ratio(self) -> float | None:
        ours, theirs = self.memory_summary("pfl"), self.memory_summary("pf")
        if not ours or not theirs or not ours["median"]:
            return None
        return theirs["median"] / ours["median"]

    def met(self) -> bool | None:
        if self.target is None or self.skipped:
            return None
        kind, goal = self.target
        if kind == "ratio":
            ratio = self.ratio()
            return None if ratio is None else ratio >= goal
        ours = self.summary("pfl")
        return None if ours is None else ours["median"] <= goal

    def memory_met(self) -> bool | None:
        if not self.memory_target:
            return None
        ratio = self.memory_ratio()
        return None if ratio is None else ratio >= MEMORY_TARGET

    def target_text(self) -> str:
        if self.target is None:
            return ""
        kind, goal = self.target
        return f"≥ {goal:g}×" if kind == "ratio" else f"≤ {goal:g}{' ' + self.unit if self.unit != '×' else '×'}"

    def to_json(self) -> dict[str, Any]:
        return {"suite": self.suite, "key": self.key, "title": self.title, "unit": self.unit, "better": self.better,
                "runs": self.values, "peak_rss_mb": self.memory,
                "summary": {t: self.summary(t) for t in TOOLS if t in self.values},
                "memory_summary": {t: self.memory_summary(t) for t in TOOLS if t in self.memory},
                "ratio": self.ratio(), "memory_ratio": self.memory_ratio(),
                "target": self.target_text() or None, "met": self.met(), "memory_met": self.memory_met(),
                "note": self.note or None, "skipped": self.skipped, "details": self.details or None}


def _summary(values: list[float] | None) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}
