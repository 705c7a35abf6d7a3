"""A successive-halving race run for real: each round's runs, its decision, and what it spent and saved.

:func:`run_race` drives :class:`~._halving.Halving` with an :class:`~._execution.Execution`: the
survivors run on the round's new lines (one run per variant and round), the primary metric on the
sample so far decides who leaves, and each round records the calls and tokens it sent and what its
drops saved: ``(lines still to come) × (what one line costs the variants before the round − after)``,
from the cost model of :mod:`._spend`. Summed over the rounds that is the full grid's cost minus what
was sent.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from promptflow_lite.evaluate._execution import Execution, VariantRuns
from promptflow_lite.evaluate._halving import Halving
from promptflow_lite.evaluate._comparison import means_per_line
from promptflow_lite.evaluate._run_lines import line_scores

Primary = Callable[[list[str]], tuple[str, bool]]  # metric names → (the primary metric, higher is better)


def run_race(execution: Execution, variants: Sequence[VariantRuns], n_lines: int, baseline: str | None,
             primary: Primary, declared: dict[str, list[str]]) -> tuple[Halving, dict[str, Any]]:
    """Run the race; returns the finished race and the totals (full grid estimate, sent, saved)."""
    plan = execution.plan
    by_label = {runs.label: runs for runs in variants}
    metric: str | None = None
    race = Halving(n_lines, list(by_label), baseline, repeats=plan.repeats, seed=plan.seed,
                   budget=plan.budget_lines, alpha=1 - plan.confidence)
    while lines := race.next_lines():
        current = race.rounds[-1]
        execution.echo(f"halving round {current.number}: {len(current.variants)} variants on {current.sample} "
                       f"of {n_lines} lines ({current.new_lines} new)")
        before = (execution.spend.calls, execution.spend.prompt_tokens, execution.spend.completion_tokens)
        execution.sharing.plan([by_label[label].selector for label in current.variants])
        for label in current.variants:
            execution.run(by_label[label], lines, part=current.number)
        scores, sources = line_scores(variants, n_lines, declared)
        if metric is None:
            metric, race.higher_is_better = primary(list(sources))
        sample = race.sample
        primary_scores = {label: [means_per_line(scores[label]).get(metric, [None] * n_lines)[i] for i in sample]
                          for label in current.variants}
        race.decide(primary_scores)
        race.force_budget(primary_scores)
        after = (execution.spend.calls, execution.spend.prompt_tokens, execution.spend.completion_tokens)
        current.spend = {"calls": after[0] - before[0], "prompt_tokens": after[1] - before[1],
                         "completion_tokens": after[2] - before[2]}
    return race, _savings(execution, race, by_label, n_lines, metric)


def _savings(execution: Execution, race: Halving, by_label: dict[str, VariantRuns], n_lines: int,
             metric: str | None) -> dict[str, Any]:
    model, repeats = execution.model, execution.plan.repeats  # the model's costs are per line run
    names = ("calls", "prompt_tokens", "completion_tokens")
    for index, current in enumerate(race.rounds):
        going_on = race.rounds[index + 1].variants if index + 1 < len(race.rounds) else []
        before = model.per_line([by_label[label].selector for label in current.variants])
        after = model.per_line([by_label[label].selector for label in going_on])
        for name, b, a in zip(names, before, after):
            current.spend[f"saved_{name}"] = round((n_lines - current.sample) * repeats * (b - a))
    full = [repeats * value for value in model.per_line([runs.selector for runs in by_label.values()])]
    spend = execution.spend
    sent = {"calls": spend.calls, "prompt_tokens": spend.prompt_tokens, "completion_tokens": spend.completion_tokens}
    totals = {"metric": metric, "lines": n_lines,
              "full_grid": {name: round(n_lines * value) for name, value in zip(names, full)}, "sent": sent}
    totals["saved"] = {name: totals["full_grid"][name] - sent[name] for name in names}
    return totals
