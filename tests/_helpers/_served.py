"""Helper for serving tests: a ``pfl flow serve`` process (or a launcher of it) and the URL it printed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

from promptflow_lite.serve._client import ScoreClient

PFL = [sys.executable, "-m", "promptflow_lite.cli.main"]
URL = re.compile(r"at (http://\S+) ")
ASK_FLOW = {  # one LLM node on connection open_ai_connection: {"question": ...} -> {"answer": ...}
    "ask.jinja2": "# user:\n{{question}}\n",
    "flow.dag.yaml": """
        inputs:
          question: {type: string}
        outputs:
          answer: {type: string, reference: "${ask.output}"}
        nodes:
        - name: ask
          type: llm
          source: {type: code, path: ask.jinja2}
          inputs: {model: gpt-4o-mini, question: "${inputs.question}"}
          connection: open_ai_connection
          api: chat
    """,
}


class Served:
    """``pfl flow serve ARGS`` (``command``: what starts it, ``PFL`` by default); ``url`` is what it printed."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None, command: list[str] | None = None):
        self.proc = subprocess.Popen((command or PFL + ["flow", "serve"]) + args, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}, cwd="/")
        line = self.proc.stdout.readline()
        match = URL.search(line)
        if not match:
            self.proc.kill()
            raise AssertionError(f"no URL printed: {line!r} {self.proc.stderr.read()}")
        self.url = match.group(1)
        self.client = ScoreClient(self.url)

    def stop(self, sig: int = signal.SIGINT) -> tuple[int, str]:
        """Send ``sig`` and wait: (exit code, stderr); ``self.output`` is what it printed after its URL."""
        self.proc.send_signal(sig)
        try:
            self.output, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        return self.proc.returncode, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
