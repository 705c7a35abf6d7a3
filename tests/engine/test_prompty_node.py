"""A DAG ``type: llm`` node whose source is a ``.prompty`` (promptflow never allowed it)."""

from __future__ import annotations

from promptflow_lite.connections._types import AzureOpenAIConnection, OpenAIConnection
from promptflow_lite.engine import load_flow
from promptflow_lite.testing import ScriptedServer

PROMPTY = """---
name: {name}
model:
  api: chat
  configuration:
    type: openai
    model: gpt-4o-mini
    connection: open_ai_connection
  parameters:
    max_tokens: 64
    temperature: 0.2
inputs:
  question:
    type: string
---
system:
{style}

user:
{{{{question}}}}
"""

FLOW = """
inputs:
  question:
    type: string
outputs:
  answer:
    reference: ${answer.output}
nodes:
- name: answer
  use_variants: true
node_variants:
  answer:
    default_variant_id: terse
    variants:
      terse:
        node:
          type: llm
          source:
            type: code
            path: terse.prompty
          inputs:
            question: ${inputs.question}
            max_tokens: 5
      verbose:
        node:
          type: llm
          source:
            type: code
            path: verbose.prompty
          inputs:
            question: ${inputs.question}
          connection: azure_conn
"""


def test_prompty_llm_node_with_variants_overrides_and_connection(make_flow):
    folder = make_flow({
        "flow.dag.yaml": FLOW,
        "terse.prompty": PROMPTY.format(name="terse", style="Answer in one word."),
        "verbose.prompty": PROMPTY.format(name="verbose", style="Answer at length."),
    })
    rules = [{"match": "one word", "reply": "Paris"}, {"match": "at length", "reply": "Paris is the capital."}]
    with ScriptedServer(rules=rules) as server:
        connections = {
            "open_ai_connection": OpenAIConnection(api_key="x", base_url=server.base_url),
            "azure_conn": AzureOpenAIConnection(api_key="y", api_base=server.url),
        }
        terse = load_flow(folder, connections=connections).run({"question": "Capital of France?"})
        verbose = load_flow(folder, variant="${answer.verbose}", connections=connections)(question="Capital?")
        terse_request, verbose_request = server.requests[0], server.requests[1]
    assert terse.outputs == {"answer": "Paris"}
    assert terse.node_runs["answer"].usage["total_tokens"] > 0
    assert terse_request["body"]["max_tokens"] == 5  # the node input overrides the prompty's parameter
    assert terse_request["body"]["temperature"] == 0.2
    assert terse_request["path"] == "/v1/chat/completions"
    assert verbose == {"answer": "Paris is the capital."}
    assert verbose_request["path"].startswith("/openai/deployments/")  # the node's connection wins
