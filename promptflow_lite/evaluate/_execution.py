"""Running one variant of an evaluation on some lines: its flow run per repeat and every evaluator's run over it.

Every run goes through the runs ``Client`` (so it lands in the run store and the response cache
applies). Flow runs happen inside the evaluation's :class:`~._node_sharing.SharedNodes` scope, so
combinations that agree on a node compute it once per line; what each line used is read back from
the run journals for the spend, the cost model and the cost and latency figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from promptflow_lite.errors import UserError
from promptflow_lite.evaluate._node_sharing import SharedNodes
from promptflow_lite.evaluate._spend import GridCostModel, Spend
from promptflow_lite.evaluate._usage import LineUse, resolve_reused, uses_from_journal
from promptflow_lite.evaluate._run_lines import RunLines, lines_from_journal

Echo = Callable[[str], None]


@dataclass
class VariantRuns:
    """One variant's runs: its flow run per repeat and, per evaluator, the evaluation run per repeat.

    After a halving race a variant has one run per round it took part in; its lines are merged here
    (``RunLines.names`` lists the runs). ``uses`` holds what each line of the flow runs used, per repeat.
    """

    label: str
    selector: str | None
    base: list[RunLines] = field(default_factory=list)
    evaluations: dict[str, list[RunLines]] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)  # evaluator → its logged metrics (repeat 0)
    uses: list[dict[int, LineUse]] = field(default_factory=list)

    def add(self, into: list[RunLines], repeat: int, lines: RunLines) -> None:
        if repeat < len(into):
            into[repeat].absorb(lines)
        else:
            into.append(lines)


@dataclass
class Execution:
    """What every run of one evaluation shares."""

    client: Any
    plan: Any  # the EvaluationPlan
    prepared: Any  # its PreparedEvaluation: mappings, connection overrides, run names
    sharing: SharedNodes
    model: GridCostModel
    echo: Echo
    spend: Spend = field(default_factory=Spend)
    flow_uses: dict[str, dict[int, LineUse]] = field(default_factory=dict)  # run name → its lines (for reuse)

    def run(self, runs: VariantRuns, lines: list[int] | None = None, part: int | None = None) -> None:
        """``runs``' variant on ``lines`` (None: all), every repeat, then every evaluator on each run."""
        from promptflow_lite.engine._node_reuse import reusing

        plan, client, prepared = self.plan, self.client, self.prepared
        for repeat in range(plan.repeats):
            name = prepared.run_name(runs.label, repeat, plan.repeats, part=part)
            where = f" on {len(lines)} lines" if lines is not None else ""
            self.echo(f"running {runs.label}{where}"
                      f"{f' (repeat {repeat + 1}/{plan.repeats})' if plan.repeats > 1 else ''}: run {name}")
            with reusing(self.sharing.scope(runs.selector, repeat, name)):
                base = client.run(plan.flow, data=str(plan.data), column_mapping=prepared.flow_mapping,
                                  variant=runs.selector, name=name, lines=lines, repeat_index=repeat,
                                  **self._options(None))
            lines_run, uses = read_run(base)
            resolve_reused(uses, self.flow_uses)
            self.flow_uses[base.name] = uses
            runs.add(runs.base, repeat, lines_run)
            self.spend.add(uses.values())
            self.model.observe_flow(runs.selector, uses.values())
            if repeat < len(runs.uses):
                runs.uses[repeat].update(uses)
            else:
                runs.uses.append(uses)
            evaluated: list[LineUse] = []
            for spec in plan.evaluators:
                evaluation = client.run(spec.path, data=str(plan.data), run=base,
                                        column_mapping=prepared.mappings[spec.alias],
                                        name=prepared.run_name(runs.label, repeat, plan.repeats, spec.alias, part),
                                        lines=lines,
                                        **self._options(spec.alias))
                scored, used = read_run(evaluation)
                runs.add(runs.evaluations.setdefault(spec.alias, []), repeat, scored)
                evaluated += used.values()
                if repeat == 0 and part is None:  # a halving round's metrics are a sample's, not the variant's
                    runs.metrics[spec.alias] = logged_metrics(client, evaluation.name)
            self.spend.add(evaluated)
            self.model.observe_evaluators(runs.selector, len(uses), evaluated)

    def _options(self, target: str | None) -> dict[str, Any]:
        plan = self.plan
        return dict(environment_variables=plan.environment_variables, connections=plan.connections,
                    connection_overrides=self.prepared.overrides.get(target), max_concurrency=plan.max_concurrency,
                    use_cache=plan.use_cache)


def read_run(run: Any) -> tuple[RunLines, dict[int, LineUse]]:
    """The run's lines and what each used, from one read of its journal; a run without a single succeeded
    line stops the evaluation with its error."""
    from promptflow_lite.runs._store import RunFolder

    journal = RunFolder(run.output_path).read_journal()
    lines = lines_from_journal(run.name, journal)
    if not lines.outputs:
        error = run.error or {}
        message = error.get("message", error) if isinstance(error, dict) else error
        command = f"pfl run show-details {run.name} --failed-only" if lines.errors else f"pfl run show {run.name}"
        raise UserError(f"Run '{run.name}' has no succeeded line ({run.status}): {message}",
                        hint=f"see `{command}`.")
    return lines, uses_from_journal(journal)


def logged_metrics(client, name: str) -> dict[str, Any]:
    from promptflow_lite.runs._errors import InvalidRunStatusError

    try:
        return dict(client.get_metrics(name) or {})
    except InvalidRunStatusError:  # every line of the evaluation failed: no metrics
        return {}
