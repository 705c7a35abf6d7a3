"""The try-it page ``GET /`` in real headless Chromium: a form for a flow, a streamed chat for a chat flow, the key."""

from __future__ import annotations

import os

import pytest

from promptflow_lite.connections._types import OpenAIConnection
from promptflow_lite.serve import ServerThread, ServeSettings, create_app
from promptflow_lite.testing import Rule, ScriptedServer

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SHOTS = os.environ.get("PFL_SCREENSHOTS")  # a folder to keep the screenshots in

FORM_FLOW = {
    "flow.dag.yaml": """
        inputs:
          text: {type: string, description: what to repeat}
          times: {type: int, default: 2}
          loud: {type: bool, default: false}
        outputs:
          repeated: {type: string, reference: "${repeat.output}"}
        nodes:
        - name: repeat
          type: python
          source: {type: code, path: repeat.py}
          inputs: {text: "${inputs.text}", times: "${inputs.times}", loud: "${inputs.loud}"}
    """,
    "repeat.py": """
        from promptflow import tool

        @tool
        def repeat(text: str, times: int, loud: bool) -> str:
            return (text.upper() if loud else text) * times
    """,
}
CHAT_FLOW = {
    "chat.jinja2": """
        # system:
        You are a travel guide.
        {% for item in chat_history %}
        # user:
        {{item.inputs.question}}
        # assistant:
        {{item.outputs.answer}}
        {% endfor %}
        # user:
        {{question}}
    """,
    "flow.dag.yaml": """
        inputs:
          chat_history: {type: list, default: [], is_chat_history: true}
          question: {type: string, is_chat_input: true}
        outputs:
          answer: {type: string, reference: "${chat.output}", is_chat_output: true}
        nodes:
        - name: chat
          type: llm
          source: {type: code, path: chat.jinja2}
          inputs: {model: gpt-4o-mini, chat_history: "${inputs.chat_history}", question: "${inputs.question}"}
          connection: open_ai_connection
          api: chat
    """,
}


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


def shot(page, name: str, tmp_path) -> None:
    folder = SHOTS or str(tmp_path)
    page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=True)


def test_form_page_runs_the_flow_after_asking_for_the_key(browser, make_flow, tmp_path):
    app = create_app(make_flow(FORM_FLOW, name="repeater"), settings=ServeSettings(api_key="page-key-123456"))
    with ServerThread(app) as server:
        page = browser.new_page()
        response = page.goto(server.url + "/")
        assert response.status == 401  # behind the key: the page only asks for it
        page.get_by_label("API key").fill("wrong-key")
        page.get_by_role("button", name="Use key").click()
        page.get_by_text("That key was refused.").wait_for()
        shot(page, "serve_key", tmp_path)
        page.get_by_label("API key").fill("page-key-123456")
        page.get_by_role("button", name="Use key").click()

        page.locator("#in-text").fill("ab")
        page.locator("#in-times").fill("3")
        page.locator("#in-loud").check()
        assert page.get_by_text("what to repeat").is_visible()
        page.get_by_role("button", name="Run").click()
        page.locator("#output", has_text="ABABAB").wait_for()
        shot(page, "serve_form", tmp_path)
        assert page.locator("h1").inner_text() == "repeater"
        assert page.evaluate("sessionStorage.getItem('pfl-api-key')") == "page-key-123456"
        page.close()


def test_chat_page_streams_the_answer_and_keeps_the_history(browser, make_flow, tmp_path):
    rules = [Rule("trams cost", "A tram ticket costs a few euros."),  # the second turn holds the first
             Rule("Lisbon", "Lisbon has trams, hills and custard tarts to try.")]
    with ScriptedServer(rules=rules) as llm:
        connections = {"open_ai_connection": OpenAIConnection(api_key="x", base_url=llm.base_url)}
        with ServerThread(create_app(make_flow(CHAT_FLOW, name="guide"), connections=connections)) as server:
            page = browser.new_page()
            assert page.goto(server.url + "/").status == 200  # no key configured: open
            page.get_by_label("Message").fill("What to see in Lisbon?")
            page.get_by_label("Message").press("Enter")
            page.locator(".msg.assistant", has_text="custard tarts").wait_for()
            page.get_by_label("Message").fill("What do the trams cost?")
            page.get_by_role("button", name="Send").click()
            page.locator(".msg.assistant", has_text="few euros").wait_for()
            shot(page, "serve_chat", tmp_path)
            bubbles = page.locator(".msg").all_inner_texts()
            page.close()

    assert bubbles == ["What to see in Lisbon?", "Lisbon has trams, hills and custard tarts to try.",
                       "What do the trams cost?", "A tram ticket costs a few euros."]
    assert llm.requests[-1]["body"]["stream"] is True  # streamed as server-sent events
    roles = [m["role"] for m in llm.requests[-1]["body"]["messages"]]
    assert roles == ["system", "user", "assistant", "user"]  # the first turn went back as history


def test_several_flows_list_each_with_its_own_page(browser, make_flow, tmp_path):
    first = make_flow(FORM_FLOW, name="repeater")
    second = make_flow(FORM_FLOW, name="echoer")
    with ServerThread(create_app([first, second])) as server:
        page = browser.new_page()
        page.goto(server.url + "/")
        page.get_by_role("link", name="echoer").wait_for()
        shot(page, "serve_index", tmp_path)
        assert page.get_by_role("link").all_inner_texts() == ["repeater", "echoer"]
        page.get_by_role("link", name="echoer").click()
        page.locator("#in-text").fill("hi")
        page.get_by_role("button", name="Run").click()
        page.locator("#output", has_text="hihi").wait_for()
        assert page.url == server.url + "/flows/echoer/" and page.locator("h1").inner_text() == "echoer"
        page.close()
