"""``GET /metrics`` scraped with prometheus-client's own parser after real requests."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from promptflow_lite.connections._types import OpenAIConnection
from promptflow_lite.engine._load import load_flow
from promptflow_lite.serve import ServerThread, ServeSettings, create_app
from promptflow_lite.serve._client import ScoreClient
from promptflow_lite.testing import Rule, ScriptedServer

FLOW = {
    "ask.jinja2": "# user:\n{{question}}\n",
    "shout.py": """
        from promptflow import tool

        @tool
        def shout(text: str) -> str:
            if text == "boom":
                raise ValueError("no booms")
            return text.upper()
    """,
    "flow.dag.yaml": """
        inputs:
          question: {type: string}
        outputs:
          answer: {type: string, reference: "${shout.output}"}
        nodes:
        - name: ask
          type: llm
          source: {type: code, path: ask.jinja2}
          inputs: {model: gpt-4o-mini, question: "${inputs.question}"}
          connection: open_ai_connection
          api: chat
        - name: shout
          type: python
          source: {type: code, path: shout.py}
          inputs: {text: "${ask.output}"}
    """,
}


def scrape(client: ScoreClient, headers=None) -> dict[tuple[str, tuple], float]:
    status, response_headers, text = client.request("GET", "/metrics", headers=headers)
    assert status == 200 and response_headers["content-type"].startswith("text/plain")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def total(samples: dict, name: str, **labels: str) -> float:
    return sum(value for (sample, sample_labels), value in samples.items()
               if sample == name and labels.items() <= dict(sample_labels).items())


def test_metrics_count_requests_latency_tokens_and_node_errors(make_flow):
    folder = make_flow(FLOW, name="asker")
    with ScriptedServer(rules=[Rule("boom", "boom"), Rule(r"question (\d+)", r"answer \1")]) as llm:
        connections = {"open_ai_connection": OpenAIConnection(api_key="x", base_url=llm.base_url)}
        flow = load_flow(folder, connections=connections)  # the engine's own count of one line's tokens
        one_line, boom_line = flow.run({"question": "question 100"}).usage, flow.run({"question": "boom"}).usage
        with ServerThread(create_app(folder, connections=connections,
                                     settings=ServeSettings(api_key="secret-key-1234"))) as server:
            client = ScoreClient(server.url)
            auth = {"authorization": "Bearer secret-key-1234"}
            for i in range(100):
                assert client.score({"question": f"question {i:03d}"}, headers=auth) == {"answer": f"ANSWER {i:03d}"}
            assert client.request("POST", "/score", {"question": "boom"}, auth)[0] == 400
            assert client.request("POST", "/score", {}, auth)[0] == 400  # missing input: no line
            assert client.request("GET", "/metrics")[0] == 401
            assert client.request("POST", "/score", {"question": "question 1"})[0] == 401

            samples = scrape(client, auth)

    assert total(samples, "pfl_requests_total", flow="asker", status="200") == 100
    assert total(samples, "pfl_requests_total", flow="asker", status="401") == 1  # refused for its key
    assert total(samples, "pfl_requests_total", flow="asker") == 103
    assert total(samples, "pfl_request_duration_seconds_count", flow="asker") == 103
    assert 0 < total(samples, "pfl_request_duration_seconds_sum", flow="asker")
    assert total(samples, "pfl_lines_in_flight", flow="asker") == 0
    prompt = total(samples, "pfl_llm_tokens_total", flow="asker", model="gpt-4o-mini", kind="prompt")
    completion = total(samples, "pfl_llm_tokens_total", flow="asker", model="gpt-4o-mini", kind="completion")
    assert (prompt, completion) == (100 * one_line["prompt_tokens"] + boom_line["prompt_tokens"],
                                    100 * one_line["completion_tokens"] + boom_line["completion_tokens"])
    assert total(samples, "pfl_node_errors_total", flow="asker", node="shout") == 1
    assert not [key for key in samples if key[0].endswith("_created")]
