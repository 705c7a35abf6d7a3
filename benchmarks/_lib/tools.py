"""The two tools under test, behind one interface: promptflow_lite (``pfl``) and promptflow (``pf``).

Each tool gets a private home folder (``PFL_HOME`` / ``PF_HOME_DIRECTORY``) holding the one
connection the flows use, ``open_ai_connection``, pointing at a scripted OpenAI server on
127.0.0.1. promptflow is configured before it first starts: telemetry off, tracing off
(``trace.destination: none``), a plaintext keyring inside its home and a pre-filled version-check
file (so it never asks pypi.org for a newer version). Both tools run with an unreachable HTTP(S)
proxy and ``NO_PROXY=127.0.0.1,localhost``: a call to any host other than the local server fails.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

CONNECTION = "open_ai_connection"
API_KEY = "sk-bench-dummy"
_OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
            "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PFL_", "PF_", "PROMPTFLOW_", "OTEL_", "OPENAI_", "AZURE_OPENAI"))}
    env.update(_OFFLINE)
    # .pyc caches on, as on any user's machine (pip compiles site-packages at install; an editable
    # install writes them on first import); an inherited PYTHONDONTWRITEBYTECODE would make every
    # promptflow_lite start recompile its own sources.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


class Tool:
    """A tool's commands; ``home`` is its private home folder (one per scripted server URL)."""

    key = ""
    label = ""
    packages: tuple[str, ...] = ()

    def __init__(self, scratch: Path):
        self.scratch = scratch / self.key
        self.scratch.mkdir(parents=True, exist_ok=True)
        self._homes: dict[str, Path] = {}

    # commands -------------------------------------------------------------------------------
    def cli(self) -> list[str]:
        raise NotImplementedError

    def python(self) -> str:
        raise NotImplementedError

    def import_command(self) -> list[str]:
        raise NotImplementedError

    def version_command(self) -> list[str]:
        return self.cli() + ["--version"]

    def flow_test_command(self, flow: Path, inputs: dict[str, str]) -> list[str]:
        return self.cli() + ["flow", "test", "--flow", str(flow), "--inputs",
                             *[f"{k}={v}" for k, v in inputs.items()]]

    def run_create_command(self, flow: Path, data: Path, mapping: dict[str, str], name: str, *,
                           variant: str | None = None, base_run: str | None = None) -> list[str]:
        cmd = self.cli() + ["run", "create", "--flow", str(flow), "--data", str(data), "--name", name,
                            "--column-mapping", *[f"{k}={v}" for k, v in mapping.items()]]
        if variant:
            cmd += ["--variant", variant]
        if base_run:
            cmd += ["--run", base_run]
        return cmd

    def serve_command(self, flow: Path, port: int) -> list[str] | None:
        raise NotImplementedError

    # environment ----------------------------------------------------------------------------
    def env(self, base_url: str | None = None, **extra: str) -> dict[str, str]:
        """The environment of a command; with ``base_url`` the home whose connection points there."""
        env = _base_env()
        env.update(self._home_env(self.home(base_url) if base_url else self.home(None)))
        env.update(extra)
        return env

    def home(self, base_url: str | None) -> Path:
        """The home for ``base_url`` (created with its connection on first use)."""
        key = base_url or ""
        if key not in self._homes:
            path = self.scratch / f"home{len(self._homes)}"
            path.mkdir(parents=True, exist_ok=True)
            self._prepare_home(path)
            if base_url:
                self._create_connection(path, base_url)
            self._homes[key] = path
        return self._homes[key]

    def prime(self) -> None:
        """Compile the tool's package sources to .pyc (as ``pip install`` does), before anything is timed."""
        code = ("import compileall, importlib.util, os, sys\n"
                "for name in sys.argv[1:]:\n"
                "    spec = importlib.util.find_spec(name)\n"
                "    for folder in spec.submodule_search_locations or []:\n"
                "        compileall.compile_dir(folder, quiet=1)\n")
        subprocess.run([self.python(), "-c", code, *self.packages], env=_base_env(), capture_output=True)

    def reset_cache(self, base_url: str | None) -> None:
        """Forget LLM answers cached by earlier repetitions (so every repetition calls the server)."""

    def _home_env(self, home: Path) -> dict[str, str]:
        raise NotImplementedError

    def _prepare_home(self, home: Path) -> None:
        pass

    def _create_connection(self, home: Path, base_url: str) -> None:
        raise NotImplementedError


class PromptflowLite(Tool):
    key, label = "pfl", "promptflow_lite"
    packages = ("promptflow_lite",)

    def __init__(self, scratch: Path, python: str | None = None):
        super().__init__(scratch)
        self._python = python or sys.executable
        self._pfl = str(Path(self._python).parent / "pfl")
        if not Path(self._pfl).exists():
            self._pfl = shutil.which("pfl") or self._pfl

    def cli(self) -> list[str]:
        return [self._pfl]

    def python(self) -> str:
        return self._python

    def import_command(self) -> list[str]:
        return [self._python, "-c", "import promptflow_lite"]

    def serve_command(self, flow: Path, port: int) -> list[str] | None:
        probe = subprocess.run([self._python, "-c", "import starlette, uvicorn, prometheus_client"], capture_output=True, text=True)
        if probe.returncode != 0:
            return None  # the serve extra is not installed
        return self.cli() + ["flow", "serve", "--source", str(flow), "--host", "127.0.0.1", "--port", str(port)]

    def version(self) -> str:
        out = subprocess.run(self.version_command(), capture_output=True, text=True).stdout.strip()
        return out.split()[-1] if out else "?"

    def has_command(self, *words: str) -> bool:
        return subprocess.run(self.cli() + [*words, "--help"], capture_output=True, text=True).returncode == 0

    def reset_cache(self, base_url: str | None) -> None:
        shutil.rmtree(self.home(base_url) / "cache", ignore_errors=True)

    def _home_env(self, home: Path) -> dict[str, str]:
        return {"PFL_HOME": str(home)}

    def _create_connection(self, home: Path, base_url: str) -> None:
        spec = home / "connection.yaml"
        spec.write_text(f"name: {CONNECTION}\ntype: open_ai\napi_key: {API_KEY}\nbase_url: {base_url}\n")
        env = _base_env()
        env.update(self._home_env(home))
        proc = subprocess.run(self.cli() + ["connection", "create", "-f", str(spec)], env=env,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"pfl connection create failed:\n{proc.stderr[-2000:]}")


class Promptflow(Tool):
    key, label = "pf", "promptflow"
    packages = ("promptflow", "promptflow.tools")

    PF_CONFIG = "telemetry:\n  enabled: 'false'\ntrace:\n  destination: none\n"

    def __init__(self, scratch: Path, venv: Path):
        super().__init__(scratch)
        venv = Path(venv)
        self._python = str(venv / "bin" / "python")
        self._pf = str(venv / "bin" / "pf")
        for path in (self._python, self._pf):
            if not Path(path).exists():
                raise SystemExit(f"--compare-promptflow: {path} not found; create the venv as benchmarks/README.md says")

    def cli(self) -> list[str]:
        return [self._pf]

    def python(self) -> str:
        return self._python

    def import_command(self) -> list[str]:
        return [self._python, "-c", "import promptflow"]

    def serve_command(self, flow: Path, port: int) -> list[str] | None:
        return self.cli() + ["flow", "serve", "--source", str(flow), "--host", "127.0.0.1", "--port", str(port),
                             "--skip-open-browser"]

    def version(self) -> str:
        out = subprocess.run([self._python, "-c", "import importlib.metadata as m; print(m.version('promptflow'))"],
                             capture_output=True, text=True).stdout.strip()
        return out or "?"

    def _home_env(self, home: Path) -> dict[str, str]:
        return {"PF_HOME_DIRECTORY": str(home), "PF_DISABLE_TRACING": "true",
                "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
                "XDG_DATA_HOME": str(home / "xdg")}

    def _prepare_home(self, home: Path) -> None:
        (home / "pf.yaml").write_text(self.PF_CONFIG, encoding="utf-8")
        now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")
        (home / "pf_version_check.json").write_text(json.dumps(
            {"last_check_time": now, "last_hint_time": now, "latest_version": "1.18.5",
             "current_version": "1.18.5"}), encoding="utf-8")

    def _create_connection(self, home: Path, base_url: str) -> None:
        code = ("import sys\n"
                "from promptflow.client import PFClient\n"
                "from promptflow.entities import OpenAIConnection\n"
                "PFClient().connections.create_or_update(OpenAIConnection(name=sys.argv[1], api_key=sys.argv[2],"
                " base_url=sys.argv[3]))\n")
        env = _base_env()
        env.update(self._home_env(home))
        proc = subprocess.run([self._python, "-c", code, CONNECTION, API_KEY, base_url], env=env,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"creating the promptflow connection failed:\n{proc.stderr[-2000:]}")
