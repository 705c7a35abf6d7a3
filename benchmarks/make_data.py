"""Generate the benchmark datasets (deterministic): ``python benchmarks/make_data.py [--out DIR]``.

Writes JSON Lines files into ``benchmarks/data/`` (git-ignored):

- ``chain.jsonl``    5,000 lines ``{text, number}`` for the 5-node pure-python chain;
- ``llm.jsonl``      1,000 lines ``{question, context, ground_truth}`` for the LLM flow and evaluations
                     (every question is distinct, so no LLM response cache can answer one line from another);
- ``parallel.jsonl`` 100 lines ``{x}`` for the 8-parallel-nodes flow;
- ``serve.jsonl``    the request bodies of the serving benchmark (one per request, cycled).

``run.py`` calls ``generate()`` itself (with smaller sizes under ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
FULL_SIZES = {"chain": 5000, "llm": 1000, "parallel": 100, "serve": 2000}

_WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
          "quebec romeo sierra tango uniform victor whiskey xray yankee zulu").split()
_CITIES = [("France", "Paris"), ("Japan", "Tokyo"), ("Kenya", "Nairobi"), ("Peru", "Lima"), ("Norway", "Oslo"),
           ("Egypt", "Cairo"), ("Canada", "Ottawa"), ("Chile", "Santiago"), ("India", "New Delhi"),
           ("Spain", "Madrid")]


def chain_rows(n: int, rng: random.Random) -> list[dict]:
    return [{"text": "  " + " ".join(rng.choice(_WORDS).capitalize() for _ in range(rng.randint(3, 12))) + "  ",
             "number": rng.randint(0, 100)} for _ in range(n)]


def llm_rows(n: int, rng: random.Random) -> list[dict]:
    rows = []
    for i in range(n):
        country, capital = _CITIES[i % len(_CITIES)]
        filler = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(5, 25)))
        rows.append({"question": f"Question {i}: what is the capital of {country}?",
                     "context": f"{country} is a country. Its capital is {capital}. Notes: {filler}.",
                     "ground_truth": capital})
    return rows


def parallel_rows(n: int, rng: random.Random) -> list[dict]:
    return [{"x": rng.randint(1, 1000)} for _ in range(n)]


def generate(out: Path = DATA_DIR, sizes: dict[str, int] | None = None, seed: int = 20240601) -> dict[str, Path]:
    """Write the datasets (``sizes`` overrides ``FULL_SIZES`` per name); returns ``{name: path}``."""
    sizes = {**FULL_SIZES, **(sizes or {})}
    out.mkdir(parents=True, exist_ok=True)
    makers = {"chain": chain_rows, "llm": llm_rows, "parallel": parallel_rows, "serve": llm_rows}
    paths = {}
    for name, maker in makers.items():
        rng = random.Random(f"{seed}-{name}")
        path = out / f"{name}.jsonl"
        with path.open("w", encoding="utf-8") as f:
            for row in maker(sizes[name], rng):
                if name == "serve":
                    row = {"question": row["question"], "context": row["context"]}
                f.write(json.dumps(row) + "\n")
        paths[name] = path
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    for name, size in FULL_SIZES.items():
        parser.add_argument(f"--{name}", type=int, default=size, help=f"lines of {name}.jsonl (default {size})")
    args = parser.parse_args()
    paths = generate(args.out, {name: getattr(args, name) for name in FULL_SIZES})
    for name, path in paths.items():
        print(f"{path}  ({sum(1 for _ in path.open())} lines)")


if __name__ == "__main__":
    main()
