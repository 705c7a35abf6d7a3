"""promptflow's equivalent of ``pfl eval`` (run with the promptflow venv's python, in one process).

    python pf_eval.py FLOW DATA EVALUATOR_FLOW [EVALUATOR_FLOW ...] --variants variant_0,variant_1

For each variant a batch run of FLOW, then each evaluation flow as a run over it
(``answer=${run.outputs.answer}``, ``ground_truth=${data.ground_truth}``), then the metrics.
promptflow has no command for this (and no comparison statistics); this script is the shortest
way a user gets the same runs and metrics, and it pays promptflow's start-up once, not per run.
"""

from __future__ import annotations

import argparse
import json
import uuid


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("flow")
    parser.add_argument("data")
    parser.add_argument("evaluators", nargs="+")
    parser.add_argument("--variants", required=True)
    parser.add_argument("--node", default="answer")
    args = parser.parse_args()

    from promptflow.client import PFClient

    pf = PFClient()
    tag = uuid.uuid4().hex[:8]
    metrics = {}
    for variant in args.variants.split(","):
        base = pf.run(flow=args.flow, data=args.data, variant=f"${{{args.node}.{variant}}}", name=f"{variant}_{tag}",
                      column_mapping={"question": "${data.question}", "context": "${data.context}"})
        for i, evaluator in enumerate(args.evaluators):
            run = pf.run(flow=evaluator, data=args.data, run=base, name=f"{variant}_eval{i}_{tag}",
                         column_mapping={"answer": "${run.outputs.answer}", "ground_truth": "${data.ground_truth}"})
            metrics[f"{variant}/{i}"] = pf.get_metrics(run)
    print(json.dumps(metrics))


if __name__ == "__main__":
    main()
