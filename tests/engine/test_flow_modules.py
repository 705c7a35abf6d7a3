"""Two flows in one process whose code imports modules of the same name from their own folders (``helpers.py``,
``utils.py``...) each get their own: an evaluation run of a flex flow over a flex base run, DAG flows one after
the other, and the first flow again after the second."""

from __future__ import annotations

import json
from pathlib import Path

from promptflow_lite.runs import Client

ANSWER_FLEX = {
    "flow.flex.yaml": "entry: flow:answer\n",
    "flow.py": "from shared_name_helpers import shout\n"
               "def answer(q: str) -> dict:\n    return {'answer': shout(q)}\n",
    "shared_name_helpers.py": "def shout(text):\n    return text.upper() + '!'\n",
}
GRADER_FLEX = {
    "flow.flex.yaml": "entry: flow:Grader\n",
    "flow.py": "from shared_name_helpers import judge\n"
               "class Grader:\n"
               "    def __call__(self, answer: str) -> dict:\n        return {'loud': judge(answer)}\n"
               "    def __aggregate__(self, results):\n"
               "        return {'loud_rate': sum(r['loud'] for r in results) / len(results)}\n",
    "shared_name_helpers.py": "def judge(text):\n    return text.endswith('!')\n",
}


def dag_flow(suffix: str) -> dict[str, str]:
    return {
        "flow.dag.yaml": """
            inputs: {text: {type: string}}
            outputs: {out: {reference: "${tag.output}"}}
            nodes:
            - {name: tag, type: python, source: {type: code, path: tag.py}, inputs: {text: "${inputs.text}"}}
            """,
        "tag.py": "from promptflow.core import tool\nimport shared_name_utils\n"
                  "@tool\ndef tag(text: str) -> str:\n    return shared_name_utils.tag(text)\n",
        "shared_name_utils.py": f"def tag(text):\n    return text + '{suffix}'\n",
    }


def outputs(run) -> list[dict]:
    rows = Path(run.output_path, "flow_outputs", "output.jsonl").read_text().splitlines()
    return [json.loads(row) for row in rows]


def test_an_evaluation_flex_flow_over_a_flex_base_run_uses_its_own_helpers(make_flow, tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"q": f"question {i}"}) + "\n" for i in range(3)))
    client = Client(progress=False)
    base = client.run(make_flow(ANSWER_FLEX, name="answer"), data=data, column_mapping={"q": "${data.q}"})
    graded = client.run(make_flow(GRADER_FLEX, name="grader"), data=data, run=base,
                        column_mapping={"answer": "${run.outputs.answer}"})
    assert (base.status, graded.status) == ("Completed", "Completed"), graded.properties.get("error")
    assert [row["answer"] for row in outputs(base)] == [f"QUESTION {i}!" for i in range(3)]
    assert [row["loud"] for row in outputs(graded)] == [True] * 3
    assert graded.metrics == {"loud_rate": 1.0}


def test_dag_flows_whose_nodes_import_a_module_of_the_same_name_each_get_their_own(make_flow, tmp_path):
    data = tmp_path / "words.jsonl"
    data.write_text(json.dumps({"text": "word"}) + "\n")
    first, second = make_flow(dag_flow("-first"), name="first"), make_flow(dag_flow("-second"), name="second")
    client = Client(progress=False)
    runs = [client.run(flow, data=data) for flow in (first, second, first)]
    assert [outputs(run)[0]["out"] for run in runs] == ["word-first", "word-second", "word-first"]
    assert client.test(second, inputs={"text": "x"}) == {"out": "x-second"}
