"""The result files: JSON (every run) and a Markdown table (median, min–max, ratios, targets)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from _lib.figures import MEMORY_TARGET, Figure

OK, NOT_OK = "✅", "❌"


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {"platform": platform.platform(), "python": platform.python_version(),
                            "cpus": os.cpu_count()}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        info["cpu"] = next(line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                           if line.startswith("model name"))
        meminfo = Path("/proc/meminfo").read_text().split()
        info["memory_gb"] = round(int(meminfo[meminfo.index("MemTotal:") + 1]) / 2**20, 1)
        info["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    except (OSError, StopIteration, ValueError):
        pass
    return info


def git_commit(repo: Path) -> str | None:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True,
                                text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                               capture_output=True, text=True).stdout.strip()
        return f"{commit}{'+dirty' if dirty else ''}" if commit else None
    except OSError:
        return None


def source_fingerprint(package_dir: Path) -> str:
    """A short hash of the package's .py files (path, size, mtime): tells whether the code changed mid-run."""
    import hashlib

    digest = hashlib.sha1()
    for path in sorted(package_dir.rglob("*.py")):
        stat = path.stat()
        digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:12]


def _num(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _cell(fig: Figure, tool: str) -> str:
    s = fig.summary(tool)
    if s is None:
        return "—"
    text = f"{_num(s['median'])} {fig.unit}"
    if s["n"] > 1:
        dash = " to " if s["min"] < 0 or s["max"] < 0 else "–"
        text += f" ({_num(s['min'])}{dash}{_num(s['max'])})"
    return text


def _mark(met: bool | None) -> str:
    return "" if met is None else f" {OK if met else NOT_OK}"


def _ratio_cell(fig: Figure) -> str:
    if fig.target and fig.target[0] == "at_most":
        return "—"
    ratio = fig.ratio()
    return "—" if ratio is None else f"{ratio:.1f}×{_mark(fig.met())}"


def _memory_cell(fig: Figure, compare: bool) -> str:
    ours, theirs = fig.memory_summary("pfl"), fig.memory_summary("pf")
    if not ours and not theirs:
        return ""
    parts = [f"{ours['median']:.0f}" if ours else "—"]
    if compare:
        parts.append(f"{theirs['median']:.0f}" if theirs else "—")
    text = " / ".join(parts)
    ratio = fig.memory_ratio()
    if ratio is not None and fig.memory_target:
        text += f" (÷{ratio:.1f}{_mark(fig.memory_met())})"
    return text


def markdown(figures: list[Figure], meta: dict[str, Any]) -> str:
    compare = meta.get("promptflow") is not None
    head = ["Suite", "Figure", "promptflow_lite"]
    if compare:
        head += [f"promptflow {meta['promptflow']}", "Ratio"]
    head += ["Target", "Peak RSS MB" + (" (pfl / pf)" if compare else "")]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes = []
    for fig in figures:
        if fig.skipped and not fig.values:
            cells = [fig.suite, fig.title, f"skipped: {fig.skipped}"] + ([""] * 2 if compare else []) + ["", ""]
            rows.append("| " + " | ".join(cells) + " |")
            continue
        target = fig.target_text()
        if target and fig.target[0] == "at_most":
            target += _mark(fig.met())
        cells = [fig.suite, fig.title + (f" [{len(notes) + 1}]" if fig.note or fig.skipped else ""), _cell(fig, "pfl")]
        if compare:
            cells += [_cell(fig, "pf"), _ratio_cell(fig)]
        cells += [target, _memory_cell(fig, compare)]
        rows.append("| " + " | ".join(cells) + " |")
        if fig.note or fig.skipped:
            notes.append(" ".join(x for x in (fig.skipped and f"promptflow_lite skipped: {fig.skipped}.", fig.note) if x))
    lines = rows + [""]
    lines += [f"[{i}] {note}" for i, note in enumerate(notes, 1)]
    runs = meta["runs"]
    lines += ["", f"Median of {runs} run{'s' if runs > 1 else ''} (min–max in brackets). Ratio: how many times better "
                  "promptflow_lite is (promptflow ÷ promptflow_lite for times, the inverse for rates). "
                  f"Peak RSS: largest total RSS of the process tree; ÷N = promptflow's peak ÷ ours "
                  f"(target ≥ {MEMORY_TARGET:g}, i.e. ≤ ¼)." if compare else "",
              f"Machine: {meta['machine'].get('cpu', '?')}, {meta['machine'].get('cpus')} CPUs, "
              f"{meta['machine'].get('memory_gb', '?')} GB RAM, Python {meta['machine']['python']}; "
              f"promptflow_lite {meta['promptflow_lite']} ({meta.get('commit') or 'no git'}); "
              f"load average at start {meta['machine'].get('load_average_at_start')}, "
              f"at end {meta.get('load_average_at_end')}.",
              *([f"**Warning:** promptflow_lite's source files changed during the run (commit {meta['commit']} at "
                 f"start, {meta.get('commit_at_end')} at end); figures may mix versions."]
                if meta.get("fingerprint_at_end") != meta.get("fingerprint") else []),
              f"Command: `{meta['command']}`"]
    return "\n".join(lines).rstrip() + "\n"


def write(out_dir: Path, figures: list[Figure], meta: dict[str, Any]) -> tuple[Path, Path, str]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = meta["started"].replace(":", "").replace("-", "")
    table = markdown(figures, meta)
    data = {"meta": meta, "figures": [f.to_json() for f in figures]}
    json_path, md_path = out_dir / f"bench_{stamp}.json", out_dir / f"bench_{stamp}.md"
    json_path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(table, encoding="utf-8")
    (out_dir / "latest.json").write_text(json_path.read_text(encoding="utf-8"), encoding="utf-8")
    (out_dir / "latest.md").write_text(table, encoding="utf-8")
    return json_path, md_path, table
