"""Offline mode (``pfl --scripted-llm``) runs every LLM node shape, with no connection stored and no key set."""

from __future__ import annotations

import json

import pytest

from promptflow_lite.cli.main import main

RULES = """
- match: "capital of France"
  reply: Paris
- match: "."
  reply: scripted
"""

AZURE_PROMPTY = """---
name: ask
model:
  api: chat
  configuration:
    type: azure_openai
    azure_deployment: gpt-4o-deployment
    {configuration}
inputs:
  question:
    type: string
---
system:
Answer in one word.
user:
{{{{question}}}}
"""


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """Offline mode as ``pfl --scripted-llm RULES`` sets it; yields the scripted server once it started."""
    from promptflow_lite.testing import _offline as mode

    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    for variable in ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv(mode.ENV, str(rules))
    monkeypatch.setattr(mode, "_server", None)
    yield lambda: mode._server
    if mode._server is not None:
        mode._server.stop()


def flow_test(capsys, *args: str) -> dict:
    code = main(["flow", "test", *args, "--output", "json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def test_every_llm_node_shape_runs_offline_without_stored_connections(make_flow, offline, capsys):
    folder = make_flow({
        "flow.dag.yaml": """
            inputs:
              question:
                type: string
            outputs:
              azure_chat: {type: string, reference: "${azure_chat.output}"}
              azure_completion: {type: string, reference: "${azure_completion.output}"}
              openai_chat: {type: string, reference: "${openai_chat.output}"}
              embedding: {type: list, reference: "${embedding.output}"}
              typed_tool: {type: string, reference: "${typed_tool.output}"}
              prompty_node: {type: string, reference: "${prompty_node.output}"}
              prompty_in_code: {type: string, reference: "${prompty_in_code.output}"}
            nodes:
            - name: azure_chat
              type: llm
              source: {type: code, path: chat.jinja2}
              inputs:
                deployment_name: my-gpt-4o
                question: ${inputs.question}
              connection: azure_open_ai_connection
              api: chat
              provider: AzureOpenAI
            - name: azure_completion
              type: llm
              source: {type: code, path: completion.jinja2}
              inputs:
                deployment_name: my-instruct
                question: ${inputs.question}
              connection: azure_open_ai_connection
              api: completion
            - name: openai_chat
              type: llm
              source: {type: code, path: chat.jinja2}
              inputs:
                model: gpt-4o-mini
                question: ${inputs.question}
              connection: open_ai_connection
              api: chat
            - name: embedding
              type: python
              source: {type: package, tool: promptflow.tools.embedding.embedding}
              inputs:
                connection: aoai_embeddings
                deployment_name: my-ada
                input: ${inputs.question}
            - name: typed_tool
              type: python
              source: {type: code, path: typed_tool.py}
              inputs:
                conn: my_azure
                question: ${inputs.question}
            - name: prompty_node
              type: llm
              source: {type: code, path: named.prompty}
              inputs:
                question: ${inputs.question}
            - name: prompty_in_code
              type: python
              source: {type: code, path: prompty_in_code.py}
              inputs:
                question: ${inputs.question}
        """,
        "chat.jinja2": "system:\nAnswer in one word.\nuser:\n{{question}}\n",
        "completion.jinja2": "Question: {{question}}\nAnswer:",
        "typed_tool.py": """
            from openai import AzureOpenAI
            from promptflow.connections import AzureOpenAIConnection
            from promptflow.core import tool

            @tool
            def typed_tool(conn: AzureOpenAIConnection, question: str) -> str:
                client = AzureOpenAI(api_key=conn.api_key, azure_endpoint=conn.api_base, api_version=conn.api_version)
                answer = client.chat.completions.create(model="own-deployment",
                                                        messages=[{"role": "user", "content": question}])
                return answer.choices[0].message.content
        """,
        "named.prompty": AZURE_PROMPTY.format(configuration="connection: azure_not_stored"),
        "inline.prompty": AZURE_PROMPTY.format(configuration="azure_endpoint: ${env:AZURE_OPENAI_ENDPOINT}\n"
                                                             "    api_key: ${env:AZURE_OPENAI_API_KEY}"),
        "prompty_in_code.py": """
            from pathlib import Path
            from promptflow.core import Prompty, tool

            @tool
            def prompty_in_code(question: str) -> str:
                return Prompty.load(Path(__file__).parent / "inline.prompty")(question=question)
        """,
    })
    out = flow_test(capsys, "--flow", str(folder), "--inputs", "question=What is the capital of France?")
    embedding = out.pop("embedding")
    assert out == {"azure_chat": "Paris", "azure_completion": "Paris", "openai_chat": "Paris", "typed_tool": "Paris",
                   "prompty_node": "Paris", "prompty_in_code": "Paris"}
    assert len(embedding) > 8 and all(isinstance(x, float) for x in embedding)
    sent = {(r["path"], r["body"].get("model")) for r in offline().requests}
    assert sent >= {("/openai/deployments/my-gpt-4o/chat/completions", "my-gpt-4o"),
                    ("/openai/deployments/my-instruct/completions", "my-instruct"),
                    ("/v1/chat/completions", "gpt-4o-mini"),
                    ("/openai/deployments/my-ada/embeddings", "my-ada"),
                    ("/openai/deployments/own-deployment/chat/completions", "own-deployment"),
                    ("/openai/deployments/gpt-4o-deployment/chat/completions", "gpt-4o-deployment")}


def test_a_prompty_with_an_inline_azure_configuration_runs_offline(make_flow, offline, capsys):
    folder = make_flow({"ask.prompty": AZURE_PROMPTY.format(configuration="azure_endpoint: "
                                                                          "${env:AZURE_OPENAI_ENDPOINT}")})
    out = flow_test(capsys, "--flow", str(folder / "ask.prompty"), "--inputs", "question=capital of France?")
    assert out == {"output": "Paris"}
    assert [r["path"] for r in offline().requests] == ["/openai/deployments/gpt-4o-deployment/chat/completions"]


def test_a_flex_flow_with_an_azure_model_configuration_runs_offline(make_flow, offline, capsys, tmp_path):
    folder = make_flow({
        "flow.flex.yaml": "entry: app:App\n",
        "ask.prompty": AZURE_PROMPTY.format(configuration=""),
        "app.py": """
            from pathlib import Path
            from promptflow.core import AzureOpenAIModelConfiguration, Prompty

            class App:
                def __init__(self, model_config: AzureOpenAIModelConfiguration):
                    self.ask = Prompty.load(Path(__file__).parent / "ask.prompty",
                                            model={"configuration": model_config})

                def __call__(self, question: str) -> str:
                    return self.ask(question=question)
        """,
    })
    init = tmp_path / "init.json"
    init.write_text(json.dumps({"model_config": {"connection": "not_stored", "azure_deployment": "dep-x"}}))
    out = flow_test(capsys, "--flow", str(folder), "--init", str(init), "--inputs", "question=capital of France?")
    assert out == {"output": "Paris"}
    assert [r["path"] for r in offline().requests] == ["/openai/deployments/dep-x/chat/completions"]


def test_tools_that_build_their_own_openai_client_reach_the_scripted_server(make_flow, offline, capsys):
    folder = make_flow({
        "flow.dag.yaml": """
            inputs:
              question: {type: string}
            outputs:
              from_connection: {type: string, reference: "${own_client.output}"}
              from_environment: {type: string, reference: "${env_client.output}"}
            nodes:
            - name: own_client
              type: python
              source: {type: code, path: own_client.py}
              inputs: {connection: my_custom_connection, question: "${inputs.question}"}
            - name: env_client
              type: python
              source: {type: code, path: env_client.py}
              inputs: {question: "${inputs.question}"}
            """,
        "own_client.py": """
            from openai import AzureOpenAI, OpenAI
            from promptflow.connections import CustomConnection
            from promptflow.core import tool

            @tool
            def ask(connection: CustomConnection, question: str) -> str:
                settings = dict(connection)
                client = AzureOpenAI(api_key=settings["api_key"], azure_endpoint=settings["api_base"],
                                     api_version="2024-02-01")
                answer = client.chat.completions.create(model="gpt-4o",
                                                        messages=[{"role": "user", "content": question}])
                return answer.choices[0].message.content
            """,
        "env_client.py": """
            from openai import OpenAI
            from promptflow.core import tool

            @tool
            def ask(question: str) -> str:
                answer = OpenAI().chat.completions.create(model="gpt-4o",
                                                          messages=[{"role": "user", "content": question}])
                return answer.choices[0].message.content
            """,
    })
    out = flow_test(capsys, "--flow", str(folder), "--inputs", "question=capital of France?")
    assert out == {"from_connection": "Paris", "from_environment": "Paris"}
    assert sorted(r["path"] for r in offline().requests) == ["/openai/deployments/gpt-4o/chat/completions",
                                                               "/v1/chat/completions"]


def test_a_flow_whose_only_llm_client_comes_from_the_environment_runs_offline(make_flow, offline, capsys):
    folder = make_flow({
        "flow.flex.yaml": "entry: ask:ask\n",
        "ask.py": """
            from openai import OpenAI

            def ask(question: str) -> str:
                answer = OpenAI().chat.completions.create(model="gpt-4o",
                                                          messages=[{"role": "user", "content": question}])
                return answer.choices[0].message.content
            """,
    })
    assert flow_test(capsys, "--flow", str(folder), "--inputs", "question=capital of France?") == {"output": "Paris"}
    assert [r["path"] for r in offline().requests] == ["/v1/chat/completions"]
