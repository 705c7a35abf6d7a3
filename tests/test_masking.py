"""``mask_secrets``: what it hides (known secrets whole or in part, tokens, credential headers), what it leaves."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import textwrap

import pytest

from promptflow_lite.connections import OpenAIConnection
from promptflow_lite.masking import MaskedStream, is_secret_name, mask_secrets, register_environment, register_secret


@pytest.fixture
def key() -> str:
    value = "sk-proj-" + secrets.token_urlsafe(30)
    register_secret(value)
    return value


def test_a_known_key_is_hidden_whole_and_wherever_it_sits(key):
    assert mask_secrets(f"Incorrect API key provided: {key}.") == "Incorrect API key provided: ***."
    assert mask_secrets(json.dumps({"error": f"bad key {key}"})) == '{"error": "bad key ***"}'
    assert mask_secrets(f"{key}{key}") == "******"


@pytest.mark.parametrize("shown", [
    "{head8}{stars}{tail4}",      # OpenAI's 401: first 8 characters, stars, last 4
    "{head6}...{tail4}",          # first and last characters around an ellipsis
    "{head4}…",                   # a cut-off key
    "sk-***{tail4}",              # only the last characters are the key's own
    "{head12}",                   # the first characters alone
    "{tail8}",                    # the last characters alone
    "{head12}... (truncated)",
])
def test_a_key_echoed_in_part_is_hidden(key, shown):
    text = shown.format(head4=key[:4], head6=key[:6], head8=key[:8], head12=key[:12], tail4=key[-4:],
                        tail8=key[-8:], stars="*" * 20)
    masked = mask_secrets(f"Incorrect API key provided: {text}. Fix it.")
    assert masked.startswith("Incorrect API key provided: ***") and masked.endswith("Fix it.")
    assert not any(part in masked for part in (key[:6], key[-4:]))


def test_text_without_a_secret_is_left_as_it_is(key):
    for text in ("Loading... done", "**bold** and *italic*", "Basic knowledge of Bearer tokens helps.",
                 "sk-... is how keys start", "api_key: ${env:OPENAI_API_KEY}", "api-key: ******",
                 '"api_key": null', "task-a and risk-b", "", "The key points are clear."):
        assert mask_secrets(text) == text


def test_a_secret_that_is_not_one_word_is_hidden_whole_only():
    """A webhook URL or a connection string: its first or last characters are not its own."""
    webhook = "https://hooks.example.com/services/" + secrets.token_hex(12)
    connection = f"DefaultEndpointsProtocol=https;AccountKey={secrets.token_hex(12)};EndpointSuffix=core.windows.net"
    register_secret(webhook)
    register_secret(connection)
    text = "See https://hooks.example.com/docs... and https://acct.blob.core.windows.net."
    assert mask_secrets(text) == text
    assert mask_secrets(f"post to {webhook} with {connection}") == "post to *** with ***"


def test_tokens_and_credential_headers_are_hidden_even_when_unknown():
    assert mask_secrets("Authorization: Bearer abc123def456ghi") == "Authorization: Bearer ***"
    assert mask_secrets("headers={'api-key': 'f00ba4f00ba4', 'x': 1}") == "headers={'api-key': '***', 'x': 1}"
    assert mask_secrets('{"Ocp-Apim-Subscription-Key": "0123456789abcdef"}') == '{"Ocp-Apim-Subscription-Key": "***"}'
    assert mask_secrets("GET /v1?apikey=zzzz9999zzzz HTTP/1.1") == "GET /v1?apikey=*** HTTP/1.1"
    assert mask_secrets("Basic dXNlcjpwYXNzd29yZA==") == "Basic ***"


def test_short_values_and_placeholders_are_never_registered():
    for value in ("x", "dummy", "${env:OPENAI_API_KEY}", "******", "<user-input>", None, 42):
        register_secret(value)
    assert mask_secrets("x dummy ${env:OPENAI_API_KEY} ****** <user-input> 42") == \
        "x dummy ${env:OPENAI_API_KEY} ****** <user-input> 42"


def test_a_secret_json_escapes_is_hidden_in_json_too():
    value = 'pa"ss\\word-' + secrets.token_hex(8)
    register_secret(value)
    assert mask_secrets(json.dumps({"k": value})) == '{"k": "***"}'


def test_a_connection_registers_its_secrets_when_built():
    value = "conn-secret-" + secrets.token_hex(8)
    OpenAIConnection(api_key=value, name="c")
    assert mask_secrets(f"echo {value}") == "echo ***"
    later = "set-later-" + secrets.token_hex(8)
    OpenAIConnection(name="d").api_key = later
    assert mask_secrets(later) == "***"


def test_credentials_in_an_endpoint_url_are_secrets_of_the_connection():
    password, code = "pw-" + secrets.token_hex(8), "fn-" + secrets.token_hex(10)
    url = f"https://svc:{password}@gw.example.com/v1?api-version=2024-02-01&code={code}"
    OpenAIConnection(name="behind_a_gateway", api_key="sk-" + secrets.token_hex(8), base_url=url)
    shown = mask_secrets(f"LLM request to {url} failed", tokens=False)
    assert shown == "LLM request to https://svc:***@gw.example.com/v1?api-version=2024-02-01&code=*** failed"


def test_environment_variables_named_like_secrets_are_registered(monkeypatch):
    token, plain = "tok-" + secrets.token_hex(8), "plain-" + secrets.token_hex(8)
    monkeypatch.setenv("MY_SERVICE_TOKEN", token)
    monkeypatch.setenv("MY_SERVICE_REGION", plain)
    register_environment()
    assert mask_secrets(f"{token} {plain}") == f"*** {plain}"


@pytest.mark.parametrize("name, secret", [
    ("api_key", True), ("OPENAI_API_KEY", True), ("Authorization", True), ("x-api-key", True), ("HF_TOKEN", True),
    ("password", True), ("AZURE_OPENAI_KEY", True), ("client_secret", True), ("connection_string", True),
    ("max_tokens", False), ("keywords", False), ("api_base", False), ("model", False), ("deployment_name", False),
])
def test_secret_names(name, secret):
    assert is_secret_name(name) is secret


def test_a_masked_stream_masks_every_write(key, tmp_path):
    path = tmp_path / "out.txt"
    with open(path, "w") as raw:
        stream = MaskedStream(raw)
        print(f"key={key}", file=stream)
        stream.writelines([f"again {key}\n"])
        assert stream.writable()  # everything else is the wrapped stream's
    assert path.read_text() == "key=***\nagain ***\n"


def test_cli_tracebacks_are_masked(tmp_path, pfl_home):
    """A bug's traceback (and ``--debug``'s) is printed masked, like everything the CLI prints."""
    key = "sk-env-" + secrets.token_hex(16)
    flow = tmp_path / "boom"
    flow.mkdir()
    (flow / "flow.flex.yaml").write_text("entry: boom:Boom\n")
    (flow / "boom.py").write_text(textwrap.dedent("""
        import os

        class Boom:
            def __init__(self):
                raise RuntimeError("cannot start with key " + os.environ["BOOM_API_KEY"])

            def __call__(self, x: str) -> str:
                return x
    """))
    env = {"PATH": "/usr/bin:/bin", "PFL_HOME": str(pfl_home), "BOOM_API_KEY": key}
    done = subprocess.run([sys.executable, "-m", "promptflow_lite.cli.main", "--debug", "flow", "test", "--flow",
                           str(flow), "--inputs", "x=1"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 1 and "Traceback" in done.stderr and "cannot start with key ***" in done.stderr
    assert key not in done.stdout + done.stderr and key[-8:] not in done.stderr
