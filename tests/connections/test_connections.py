"""Connections: files, the encrypted local store, providers, references, and ``pfl connection``."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from promptflow_lite.cli.main import main
from promptflow_lite.connections import (
    ConnectionStore,
    CustomConnection,
    CustomStrongTypeConnection,
    DictConnectionProvider,
    OpenAIConnection,
    Secret,
    apply_env_overrides,
    default_provider,
    get_connection,
    load_connection_file,
    resolve_connection_references,
)
from promptflow_lite.connections._errors import EncryptionKeyError
from promptflow_lite.errors import ConnectionNotFound, UserError

OPENAI_YAML = """\
$schema: https://azuremlschemas.azureedge.net/promptflow/latest/OpenAIConnection.schema.json
name: open_ai_connection
type: open_ai
api_key: "sk-very-secret-123"
base_url: "http://localhost:8000/v1"
"""

CUSTOM_YAML = """\
name: my_custom
type: custom
configs:
  api_base: https://example.invalid
  retries: 3
secrets:
  api-key: custom-secret-456
"""


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def pfl(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------------------------
# the CLI

def test_create_list_show_update_delete_through_the_cli(tmp_path, capsys):
    file = write(tmp_path / "conn.yaml", OPENAI_YAML)

    code, out, _ = pfl(capsys, "connection", "create", "-f", str(file))
    assert code == 0
    created = json.loads(out)
    assert created == {"name": "open_ai_connection", "type": "open_ai", "organization": None,
                       "base_url": "http://localhost:8000/v1", "api_key": "******"}

    code, out, err = pfl(capsys, "connection", "create", "-f", str(file))  # again: replaces it
    assert code == 0 and "already exists" in err

    code, out, _ = pfl(capsys, "connection", "list")
    assert code == 0 and [c["name"] for c in json.loads(out)] == ["open_ai_connection"]
    assert "sk-very-secret" not in out

    code, out, _ = pfl(capsys, "connection", "list", "-o", "table")
    assert code == 0
    assert out.splitlines()[0].split() == ["NAME", "TYPE", "CONFIGS"]
    assert "open_ai_connection  open_ai  base_url=http://localhost:8000/v1" in out

    code, out, _ = pfl(capsys, "connection", "update", "-n", "open_ai_connection",
                       "--set", "base_url=http://127.0.0.1:9/v1", "organization=acme")
    assert code == 0 and json.loads(out)["organization"] == "acme"

    code, out, _ = pfl(capsys, "connection", "show", "-n", "open_ai_connection")
    shown = json.loads(out)
    assert shown["base_url"] == "http://127.0.0.1:9/v1" and shown["api_key"] == "******"
    # the update kept the secret it was not given
    assert ConnectionStore().get("open_ai_connection").api_key == "sk-very-secret-123"

    code, out, _ = pfl(capsys, "connection", "delete", "-n", "open_ai_connection", "-y")
    assert code == 0 and "deleted" in out
    code, out, err = pfl(capsys, "connection", "show", "-n", "open_ai_connection")
    assert code == 1 and "not found" in err and out == ""


def test_custom_connection_round_trip_keeps_nested_configs_and_secrets(tmp_path, capsys):
    file = write(tmp_path / "custom.yaml", CUSTOM_YAML)
    code, out, _ = pfl(capsys, "connection", "create", "-f", str(file), "--set", "secrets.token=abc",
                       "configs.region=eu")
    assert code == 0
    assert json.loads(out) == {
        "name": "my_custom", "type": "custom",
        "configs": {"api_base": "https://example.invalid", "retries": "3", "region": "eu"},
        "secrets": {"api-key": "******", "token": "******"},
    }
    conn = ConnectionStore().get("my_custom")
    assert isinstance(conn, CustomConnection)
    assert conn.secrets == {"api-key": "custom-secret-456", "token": "abc"}

    # update with the masked form: stored secrets are kept, a new one is added
    code, out, _ = pfl(capsys, "connection", "update", "-n", "my_custom", "--set", "secrets.api-key=<no-change>",
                       "secrets.extra=xyz")
    assert code == 0
    assert ConnectionStore().get("my_custom").secrets == {"api-key": "custom-secret-456", "token": "abc",
                                                           "extra": "xyz"}


def test_update_from_a_file_keeps_masked_secrets(tmp_path, capsys):
    pfl(capsys, "connection", "create", "-f", str(write(tmp_path / "c.yaml", OPENAI_YAML)))
    changed = write(tmp_path / "changed.yaml", OPENAI_YAML.replace('"sk-very-secret-123"', '"******"')
                    .replace("localhost:8000", "127.0.0.1:1234"))
    code, _, err = pfl(capsys, "connection", "update", "-n", "open_ai_connection", "-f", str(changed))
    assert code == 0, err
    conn = ConnectionStore().get("open_ai_connection")
    assert (conn.api_key, conn.base_url) == ("sk-very-secret-123", "http://127.0.0.1:1234/v1")


def test_set_overrides_fields_and_name(tmp_path, capsys):
    file = write(tmp_path / "conn.yaml", OPENAI_YAML)
    code, _, err = pfl(capsys, "connection", "create", "-f", str(file), "--set", "name=second",
                       "--set", "api_key=sk-other", "base_url=http://127.0.0.1:1/v1")
    assert code == 0, err
    conn = ConnectionStore().get("second")
    assert (conn.api_key, conn.base_url) == ("sk-other", "http://127.0.0.1:1/v1")
    assert ConnectionStore().names() == ["second"]


def test_unquoted_dates_and_numbers_in_a_connection_file_are_kept_as_written(tmp_path, capsys):
    file = write(tmp_path / "azure.yaml", """\
        name: my_azure
        type: azure_open_ai
        api_key: 12345
        api_base: https://example.openai.azure.com/
        api_version: 2024-02-01
    """)
    code, out, err = pfl(capsys, "connection", "create", "-f", str(file))
    assert code == 0, err
    assert json.loads(out)["api_version"] == "2024-02-01"
    conn = ConnectionStore().get("my_azure")
    assert (conn.api_version, conn.api_key) == ("2024-02-01", "12345")
    custom = write(tmp_path / "custom.yaml", "name: c\ntype: custom\nconfigs:\n  since: 2024-02-01T10:00:00\n")
    assert load_connection_file(custom).configs["since"] == "2024-02-01T10:00:00"


def test_unknown_field_is_an_error_naming_the_file_field_and_valid_ones(tmp_path, capsys):
    file = write(tmp_path / "bad.yaml", OPENAI_YAML + "api_bsae: http://typo\n")
    code, out, err = pfl(capsys, "connection", "create", "-f", str(file))
    assert code == 1 and out == ""
    assert str(file) in err and "api_bsae" in err
    assert "valid fields are: name, type, organization, base_url, api_key" in err

    custom = write(tmp_path / "custom.yaml", CUSTOM_YAML + "api_key: top-level\n")
    code, _, err = pfl(capsys, "connection", "create", "-f", str(custom))
    assert code == 1 and "'api_key'" in err and "configs:" in err and "secrets:" in err


def test_missing_required_field_and_unknown_type_are_clear(tmp_path):
    with pytest.raises(UserError, match="needs `api_base`"):
        load_connection_file(write(tmp_path / "a.yaml", "name: a\ntype: azure_open_ai\napi_key: k\n"))
    with pytest.raises(UserError, match="Unknown connection type 'open_aii'.*open_ai"):
        load_connection_file(write(tmp_path / "b.yaml", "name: b\ntype: open_aii\napi_key: k\n"))
    with pytest.raises(UserError, match="no `name`"):
        load_connection_file(write(tmp_path / "c.yaml", "type: open_ai\napi_key: k\n"))


def test_dotenv_file_becomes_a_custom_connection(tmp_path, capsys):
    env = write(tmp_path / "local.env", """\
        # comment
        OPENAI_API_KEY=sk-from-dotenv
        export REGION="west europe"
        EMPTY_OK='x=y'
        """)
    code, _, err = pfl(capsys, "connection", "create", "-f", str(env))
    assert code == 1 and "no `name`" in err and "--name" in err

    code, out, err = pfl(capsys, "connection", "create", "-f", str(env), "--name", "from_env")
    assert code == 0, err
    assert json.loads(out)["secrets"] == {"OPENAI_API_KEY": "******", "REGION": "******", "EMPTY_OK": "******"}
    conn = ConnectionStore().get("from_env")
    assert conn.secrets == {"OPENAI_API_KEY": "sk-from-dotenv", "REGION": "west europe", "EMPTY_OK": "x=y"}


def test_user_input_placeholder_needs_a_terminal(tmp_path, capsys):
    file = write(tmp_path / "conn.yaml", OPENAI_YAML.replace('"sk-very-secret-123"', '"<user-input>"'))
    code, _, err = pfl(capsys, "connection", "create", "-f", str(file))
    assert code == 1 and "<user-input>" in err and "--set api_key=VALUE" in err
    # --set gives the value instead
    code, _, err = pfl(capsys, "connection", "create", "-f", str(file), "--set", "api_key=sk-typed")
    assert code == 0, err
    # the API never prompts
    with pytest.raises(UserError, match="only an interactive terminal"):
        ConnectionStore().create_or_update(OpenAIConnection(name="x", api_key="<user-input>"))


def test_user_input_placeholder_is_asked_for_in_a_terminal(tmp_path, pfl_home):
    """Run `pfl connection create` attached to a pseudo-terminal and type the secret."""
    import pty

    file = write(tmp_path / "conn.yaml", OPENAI_YAML.replace('"sk-very-secret-123"', '"<user-input>"'))
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "promptflow_lite.cli.main", "connection", "create", "-f", str(file)],
                            stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            env={**os.environ, "PFL_HOME": str(pfl_home)})
    os.close(slave)
    seen = b""
    while b"api_key: " not in seen:  # getpass flushes earlier input: answer once the prompt is shown
        chunk = os.read(proc.stderr.fileno(), 1024)
        assert chunk, f"no prompt, stderr: {seen!r}"
        seen += chunk
    os.write(master, b"sk-typed-in-terminal\n")
    out, err = proc.communicate(timeout=60)
    os.close(master)
    assert b"Please input the secrets of connection 'open_ai_connection'" in seen
    assert proc.returncode == 0, err.decode()
    assert json.loads(out)["api_key"] == "******"
    assert ConnectionStore().get("open_ai_connection").api_key == "sk-typed-in-terminal"


def test_delete_asks_for_confirmation_and_unknown_names_fail(tmp_path, capsys):
    pfl(capsys, "connection", "create", "-f", str(write(tmp_path / "c.yaml", OPENAI_YAML)))
    code, _, err = pfl(capsys, "connection", "delete", "-n", "open_ai_connection")
    assert code == 1 and "-y" in err
    assert ConnectionStore().names() == ["open_ai_connection"]
    code, _, err = pfl(capsys, "connection", "delete", "-n", "other", "-y")
    assert code == 1 and "Known connections: open_ai_connection" in err


# ---------------------------------------------------------------------------------------------
# the store: encryption, key file, processes

def test_secret_is_encrypted_at_rest_and_the_key_file_is_private(tmp_path, capsys, pfl_home):
    pfl(capsys, "connection", "create", "-f", str(write(tmp_path / "c.yaml", OPENAI_YAML)))
    pfl(capsys, "connection", "create", "-f", str(write(tmp_path / "d.yaml", CUSTOM_YAML)))
    stored = b"".join(p.read_bytes() for p in pfl_home.glob("connections.sqlite*"))
    assert b"open_ai_connection" in stored  # the database is really there...
    assert b"sk-very-secret-123" not in stored and b"custom-secret-456" not in stored  # ...without the secrets

    key_file = pfl_home / ".encryption_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert list(pfl_home.glob("*.tmp")) == []


def test_a_changed_key_file_gives_a_clear_error(tmp_path, capsys, pfl_home):
    pfl(capsys, "connection", "create", "-f", str(write(tmp_path / "c.yaml", OPENAI_YAML)))
    (pfl_home / ".encryption_key").unlink()  # lost key: a new one will be created

    with pytest.raises(EncryptionKeyError) as info:
        ConnectionStore().get("open_ai_connection")
    message = str(info.value)
    assert "api_key" in message and "open_ai_connection" in message and ".encryption_key" in message
    assert "pfl connection delete -n open_ai_connection" in message
    # showing and listing never decrypt, so they still work
    code, out, _ = pfl(capsys, "connection", "show", "-n", "open_ai_connection")
    assert code == 0 and json.loads(out)["api_key"] == "******"

    (pfl_home / ".encryption_key").write_text("not a key")
    with pytest.raises(EncryptionKeyError, match="does not hold a valid encryption key"):
        ConnectionStore().get("open_ai_connection")


CREATE_MANY = """
import sys
from promptflow_lite.connections import ConnectionStore, CustomConnection
store = ConnectionStore()
for i in range(15):
    store.create_or_update(CustomConnection(name=f"{sys.argv[1]}_{i}", secrets={"token": f"secret-{sys.argv[1]}-{i}"}))
"""


def test_two_processes_creating_connections_at_once_share_one_key(pfl_home):
    procs = [subprocess.Popen([sys.executable, "-c", CREATE_MANY, who], stderr=subprocess.PIPE,
                              env={**os.environ, "PFL_HOME": str(pfl_home)}) for who in ("a", "b")]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    store = ConnectionStore()
    assert len(store.names()) == 30
    for who in ("a", "b"):
        for i in range(15):
            assert store.get(f"{who}_{i}").secrets == {"token": f"secret-{who}-{i}"}


def test_strong_type_connection_objects_are_stored_as_custom_and_convert_back(pfl_home):
    store = ConnectionStore()
    store.create_or_update(MyStrongConnection(name="strong", api_key="k-1", api_base="https://api.invalid"))
    stored = store.get("strong")
    assert type(stored) is CustomConnection and stored._is_custom_strong_type()
    converted = stored._convert_to_custom_strong_type()
    assert type(converted) is MyStrongConnection
    assert (converted.api_key, converted.api_base) == ("k-1", "https://api.invalid")


# ---------------------------------------------------------------------------------------------
# ${env:VAR}

def test_env_references_are_stored_as_written_and_resolved_at_use(tmp_path, capsys, monkeypatch):
    yaml = OPENAI_YAML.replace('"sk-very-secret-123"', '"${env:MY_TEST_OPENAI_KEY}"')
    pfl(capsys, "connection", "create", "-f", str(write(tmp_path / "c.yaml", yaml)),
        "--set", "organization=${env:MY_TEST_ORG}")
    store = ConnectionStore()
    assert store.get("open_ai_connection", resolve_env=False).api_key == "${env:MY_TEST_OPENAI_KEY}"

    monkeypatch.delenv("MY_TEST_OPENAI_KEY", raising=False)
    monkeypatch.setenv("MY_TEST_ORG", "acme")
    with pytest.raises(UserError) as info:
        get_connection("open_ai_connection")
    assert "'open_ai_connection'" in str(info.value) and "'api_key'" in str(info.value)
    assert "MY_TEST_OPENAI_KEY" in str(info.value)

    monkeypatch.setenv("MY_TEST_OPENAI_KEY", "sk-from-environment")
    conn = get_connection("open_ai_connection")
    assert (conn.api_key, conn.organization) == ("sk-from-environment", "acme")


# ---------------------------------------------------------------------------------------------
# providers

def test_not_found_lists_known_names_and_the_fix(tmp_path, capsys):
    pfl(capsys, "connection", "create", "-f", str(write(tmp_path / "c.yaml", OPENAI_YAML)))
    with pytest.raises(ConnectionNotFound) as info:
        get_connection("open_ai_conection")
    message = str(info.value)
    assert "Known connections: open_ai_connection" in message
    assert "Did you mean 'open_ai_connection'?" in message
    assert "pfl connection create -f conn.yaml --set name=open_ai_conection" in message
    assert "type: open_ai" in message


def test_dict_provider_accepts_promptflows_execution_format():
    provider = DictConnectionProvider({
        "azure_open_ai_connection": {
            "type": "AzureOpenAIConnection", "module": "promptflow.connections",
            "value": {"api_key": "aoai-key", "api_base": "https://x.openai.azure.com", "api_type": "azure",
                      "api_version": "2024-02-01", "resource_id": "ignored-by-us"},
        },
        "custom_connection": {
            "type": "CustomConnection", "module": "promptflow.connections",
            "value": {"key1": "hey", "key2": "val2"}, "secret_keys": ["key1"],
        },
        "strong": {
            "type": "MyStrongConnection", "module": __name__,
            "value": {"api_key": "s", "api_base": "https://b.invalid"}, "secret_keys": ["api_key"],
        },
        "plain": OpenAIConnection(api_key="sk-plain"),
    })
    assert provider.names() == ["azure_open_ai_connection", "custom_connection", "plain", "strong"]
    aoai = provider.get("azure_open_ai_connection")
    assert (type(aoai).__name__, aoai.name, aoai.api_key, aoai.api_base) == (
        "AzureOpenAIConnection", "azure_open_ai_connection", "aoai-key", "https://x.openai.azure.com")
    custom = provider.get("custom_connection")
    assert custom.secrets == {"key1": "hey"} and custom.configs == {"key2": "val2"}
    strong = provider.get("strong")
    assert type(strong) is MyStrongConnection and strong.api_base == "https://b.invalid"
    assert provider.get("plain").name == "plain"
    with pytest.raises(ConnectionNotFound, match="Known connections: azure_open_ai_connection, custom_connection"):
        provider.get("missing")

    bad = DictConnectionProvider({"x": {"type": "NoSuchConnection", "value": {}}})
    with pytest.raises(UserError, match="unknown type 'NoSuchConnection'.*OpenAIConnection"):
        bad.get("x")


def test_default_provider_reads_promptflow_connections_file_then_the_store(tmp_path, capsys, monkeypatch):
    pfl(capsys, "connection", "create", "-f", str(write(tmp_path / "c.yaml", OPENAI_YAML)))
    file = tmp_path / "connections.json"
    file.write_text(json.dumps({
        "from_file": {"type": "OpenAIConnection", "module": "promptflow.connections",
                      "value": {"api_key": "${env:KEY_FOR_FILE}"}, "secret_keys": ["api_key"]},
    }))
    monkeypatch.setenv("PROMPTFLOW_CONNECTIONS", str(file))
    monkeypatch.setenv("KEY_FOR_FILE", "sk-file")
    provider = default_provider()
    assert provider.names() == ["from_file", "open_ai_connection"]
    assert provider.get("from_file").api_key == "sk-file"
    assert provider.get("open_ai_connection").api_key == "sk-very-secret-123"
    with pytest.raises(ConnectionNotFound) as info:
        provider.get("nope")
    assert "connections.json" in str(info.value) and "connections.sqlite" in str(info.value)

    monkeypatch.setenv("PROMPTFLOW_CONNECTIONS", str(tmp_path / "missing.json"))
    with pytest.raises(UserError, match="PROMPTFLOW_CONNECTIONS"):
        default_provider()


def test_serving_env_overrides_are_off_by_default(tmp_path, capsys, monkeypatch):
    pfl(capsys, "connection", "create", "-f", str(write(tmp_path / "c.yaml", OPENAI_YAML)))
    monkeypatch.setenv("OPEN_AI_CONNECTION_BASE_URL", "http://override:1/v1")
    assert default_provider().get("open_ai_connection").base_url == "http://localhost:8000/v1"
    assert default_provider(env_overrides=True).get("open_ai_connection").base_url == "http://override:1/v1"

    conn = CustomConnection(name="my conn", secrets={"token": "a"}, configs={"region": "x"})
    monkeypatch.setenv("MY_CONN_TOKEN", "b")
    overridden = apply_env_overrides(conn)
    assert overridden.secrets == {"token": "b"} and overridden.configs == {"region": "x"}
    assert conn.secrets == {"token": "a"}  # the original is untouched


def test_resolve_connection_references_in_environment_variables():
    provider = DictConnectionProvider({
        "aoai": {"type": "AzureOpenAIConnection", "value": {"api_key": "k", "api_base": "https://b"}},
    })
    env = resolve_connection_references({
        "AZURE_OPENAI_API_KEY": "${aoai.api_key}",
        "AZURE_OPENAI_API_BASE": "  ${aoai.api_base} ",
        "UNKNOWN_KEY": "${aoai.nope}",
        "NOT_A_REFERENCE": "${aoai.api_key}.suffix",
        "COUNT": 3,
        "LIST": [1, "a"],
        "MAPPING": {"a": 1},
    }, provider)
    assert env == {
        "AZURE_OPENAI_API_KEY": "k", "AZURE_OPENAI_API_BASE": "https://b", "UNKNOWN_KEY": "${aoai.nope}",
        "NOT_A_REFERENCE": "${aoai.api_key}.suffix", "COUNT": "3", "LIST": '[1, "a"]', "MAPPING": '{"a": 1}',
    }
    with pytest.raises(ConnectionNotFound, match="Known connections: aoai"):
        resolve_connection_references({"X": "${other.api_key}"}, provider)


def test_flow_environment_variables_read_a_stored_connection(tmp_path, capsys, make_flow):
    from promptflow_lite.engine import load_flow

    pfl(capsys, "connection", "create", "-f", str(write(tmp_path / "c.yaml", OPENAI_YAML)))
    folder = make_flow({
        "read.py": "import os\nfrom promptflow.core import tool\n"
                   "@tool\ndef read() -> str:\n    return os.environ['FLOW_BASE_URL']\n",
        "flow.dag.yaml": "environment_variables:\n  FLOW_BASE_URL: ${open_ai_connection.base_url}\n"
                         "inputs: {}\noutputs:\n  url:\n    reference: ${read.output}\nnodes:\n"
                         "- name: read\n  type: python\n  source: {type: code, path: read.py}\n  inputs: {}\n",
    })
    try:
        assert load_flow(folder)() == {"url": "http://localhost:8000/v1"}
    finally:
        os.environ.pop("FLOW_BASE_URL", None)


# ---------------------------------------------------------------------------------------------
# connection objects as flow code uses them

class MyStrongConnection(CustomStrongTypeConnection):
    api_key: Secret
    api_base: str = "https://default.invalid"


def test_mapping_protocol_and_attribute_access():
    conn = OpenAIConnection(name="c", api_key="sk", base_url="http://b/v1")
    assert dict(conn) == {"organization": None, "base_url": "http://b/v1", "api_key": "sk"}
    assert {**conn}["api_key"] == "sk" and conn["base_url"] == "http://b/v1"
    assert conn.is_secret("api_key") and not conn.is_secret("base_url")
    custom = CustomConnection(name="x", configs={"k1": "v1"}, secrets={"s1": "p1"})
    assert dict(custom) == {"k1": "v1", "s1": "p1"} and custom.k1 == "v1" and custom.s1 == "p1"
    assert "p1" not in repr(custom)


def test_custom_connection_converts_to_a_strong_type(tmp_path, capsys, monkeypatch):
    custom = CustomConnection(name="x", configs={"api_base": "https://stored.invalid"}, secrets={"api_key": "k"})
    strong = custom._convert_to_custom_strong_type(module=__name__, to_class="MyStrongConnection")
    assert type(strong) is MyStrongConnection
    assert (strong.api_base, strong.api_key, strong.name) == ("https://stored.invalid", "k", "x")
    assert custom._convert_to_custom_strong_type(MyStrongConnection).api_base == "https://stored.invalid"

    # a strong-type YAML records its class, so the stored connection converts without arguments
    module_dir = tmp_path / "mods"
    module_dir.mkdir()
    (module_dir / "my_conn_module.py").write_text(
        "from promptflow.connections import CustomStrongTypeConnection\n"
        "from promptflow.contracts.types import Secret\n"
        "class MyConn(CustomStrongTypeConnection):\n    api_key: Secret\n    api_base: str = 'default'\n")
    monkeypatch.syspath_prepend(str(module_dir))
    file = write(tmp_path / "strong.yaml", """\
        name: strong_conn
        type: custom
        custom_type: MyConn
        module: my_conn_module
        package: my-package
        package_version: 0.0.1
        configs:
          api_base: https://strong.invalid
        secrets:
          api_key: strong-key
        """)
    code, out, err = pfl(capsys, "connection", "create", "-f", str(file))
    assert code == 0, err
    assert json.loads(out)["custom_type"] == "MyConn" and json.loads(out)["configs"] == {"api_base": "https://strong.invalid"}
    from promptflow_lite._compat import promptflow_alias

    with promptflow_alias():
        converted = get_connection("strong_conn")._convert_to_custom_strong_type()
    assert type(converted).__name__ == "MyConn"
    assert (converted.api_base, converted.api_key) == ("https://strong.invalid", "strong-key")
