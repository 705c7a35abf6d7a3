"""``pfl flow test --interactive``: a terminal chat with a chat flow (FLOW_FORMAT §1.3).

After each turn the history gets ``{"inputs": {<chat input>: text}, "outputs": <flow outputs>}``,
the shape promptflow's chat templates iterate over. Streamed answers print as they arrive.
"""

from __future__ import annotations

import inspect
import json
import sys
from typing import Any

from promptflow_lite.errors import UserError


def chat_loop(source: str, *, variant: str | None = None, environment_variables: dict[str, Any] | None = None,
              init: dict[str, Any] | None = None, read=input, write=sys.stdout, verbose: bool = False) -> int:
    """Read questions until EOF / "exit"; print each answer (and, ``verbose``, every node's output).
    Returns the exit code."""
    from promptflow_lite.engine._flow import working_directory
    from promptflow_lite.engine._load import load_flow
    from promptflow_lite.engine._sync import run_sync

    flow = load_flow(source, variant=variant, environment_variables=environment_variables, init=init)
    spec = getattr(flow, "spec", None)
    chat_input = getattr(spec, "chat_input", None)
    if chat_input is None:
        raise UserError("--interactive needs a chat flow: exactly one input marked `is_chat_input: true`.",
                        file=str(flow.path), hint="mark the question input with is_chat_input: true.")
    history_input = spec.chat_history_input
    chat_output = spec.chat_output or next(iter(flow.output_names), None)
    history: list[dict[str, Any]] = []
    write.write("Chat with the flow (empty line or 'exit' to quit).\n")
    with working_directory(getattr(flow, "run_dir", flow.working_dir)):
        while True:
            try:
                question = read("User: ")
            except EOFError:
                break
            if question.strip() in ("", "exit", "quit"):
                break
            inputs = {chat_input: question}
            if history_input:
                inputs[history_input] = list(history)
            result = run_sync(_turn(flow, inputs, chat_output, write))
            if not result.ok:
                write.write(f"Error: {result.error.get('message')}\n")
                continue
            history.append({"inputs": {chat_input: question}, "outputs": result.outputs})
            if verbose:
                for name, run in result.node_runs.items():
                    write.write(f"  {name}: {_brief(run.output)}\n")
    return 0


async def _turn(flow, inputs: dict[str, Any], chat_output: str | None, write):
    result = await flow.arun(inputs, stream=True, chat_mode=True)
    if not result.ok:
        return result
    write.write("Bot: ")
    for key, value in list(result.outputs.items()):
        if inspect.isasyncgen(value):
            parts = []
            async for chunk in value:
                parts.append(str(chunk))
                if key == chat_output:
                    write.write(str(chunk))
                    write.flush()
            result.outputs[key] = "".join(parts)
        elif inspect.isgenerator(value):
            parts = [str(chunk) for chunk in value]
            result.outputs[key] = "".join(parts)
            if key == chat_output:
                write.write(result.outputs[key])
        elif key == chat_output:
            write.write(str(value))
    write.write("\n")
    return result


def _brief(value: Any, width: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = text.replace("\n", "\\n")
    return text if len(text) <= width else text[: width - 1] + "…"
