"""What an evaluation spent on model calls, and what successive halving saved against the full grid.

:class:`Spend` counts the calls sent to an endpoint (answered neither from the response cache nor
reused from another combination's run) and their tokens, plus the node results reused.

:class:`GridCostModel` learns, from the lines that ran, what one line costs for a set of variants:
each node result the set needs (one per sharing key: variants that share a node pay for it once,
as the runs do) costs what that node sent on average where it was computed, and each variant's
evaluators cost what they sent on average per line. The full grid on every line minus what was
sent is the saving; with an empty response cache it is what the endpoint would have seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from promptflow_lite.evaluate._grid import SharingKey
from promptflow_lite.evaluate._prices import PriceTable
from promptflow_lite.evaluate._usage import LineUse, Tokens


@dataclass
class Spend:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reused_nodes: int = 0
    tokens: Tokens = field(default_factory=dict)  # sent tokens per model

    def add(self, lines: Iterable[LineUse]) -> None:
        for line in lines:
            self.calls += line.sent
            self.reused_nodes += sum(node.reused for node in line.nodes)
            for model, (prompt, completion) in line.sent_tokens().items():
                pair = self.tokens.setdefault(model, [0, 0])
                pair[0], pair[1] = pair[0] + prompt, pair[1] + completion
                self.prompt_tokens += prompt
                self.completion_tokens += completion

    def cost(self, prices: PriceTable | None) -> float | None:
        if prices is None:
            return None
        costs = [prices.cost(model, p, c) for model, (p, c) in self.tokens.items()]
        return None if any(c is None for c in costs) else sum(costs)

    def to_dict(self, prices: PriceTable | None = None) -> dict:
        return {"calls": self.calls, "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "reused_node_results": self.reused_nodes, "cost": self.cost(prices)}


@dataclass
class _Mean:
    lines: int = 0
    calls: int = 0
    prompt: int = 0
    completion: int = 0

    def add(self, calls: int, tokens: Tokens) -> None:
        self.lines += 1
        self.calls += calls
        self.prompt += sum(pair[0] for pair in tokens.values())
        self.completion += sum(pair[1] for pair in tokens.values())

    def per_line(self) -> tuple[float, float, float]:
        n = max(self.lines, 1)
        return self.calls / n, self.prompt / n, self.completion / n


class GridCostModel:
    """Per-line calls and tokens of a grid's node results and evaluators, learnt from the lines that ran."""

    def __init__(self, keys: dict[str | None, dict[str, SharingKey]]):
        self.keys = keys
        self._nodes: dict[tuple[str, SharingKey], _Mean] = {}
        self._evaluators: dict[str | None, _Mean] = {}

    def observe_flow(self, selector: str | None, lines: Iterable[LineUse]) -> None:
        """Lines of ``selector``'s flow run: nodes it computed itself count for their sharing key."""
        keys = self.keys[selector]
        for line in lines:
            for node in line.nodes:
                if not node.reused and node.node in keys:
                    self._nodes.setdefault((node.node, keys[node.node]), _Mean()).add(node.sent, node.sent_tokens)

    def observe_evaluators(self, selector: str | None, lines: int, evaluated: Iterable[LineUse]) -> None:
        """``lines`` lines of ``selector`` went through its evaluators, whose runs' lines are ``evaluated``."""
        mean = self._evaluators.setdefault(selector, _Mean())
        mean.lines += lines
        for line in evaluated:
            mean.calls += line.sent
            tokens = line.sent_tokens().values()
            mean.prompt += sum(pair[0] for pair in tokens)
            mean.completion += sum(pair[1] for pair in tokens)

    def per_line(self, selectors: Sequence[str | None]) -> tuple[float, float, float]:
        """Calls, prompt and completion tokens one line run costs when ``selectors`` run on it together
        (a line runs once per repeat)."""
        needed = {(node, key) for s in selectors for node, key in self.keys[s].items()}
        parts = [self._nodes[item].per_line() for item in needed if item in self._nodes]
        parts += [self._evaluators[s].per_line() for s in selectors if s in self._evaluators]
        return tuple(sum(part[i] for part in parts) for i in range(3))  # type: ignore[return-value]
