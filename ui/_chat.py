"""One chat turn as a stream for ``st.write_stream``: the flow runs in a thread, its chat output's chunks
arrive through a queue as the model sends them."""

from __future__ import annotations

import inspect
import queue
import threading
from pathlib import Path
from typing import Any, Iterator

from promptflow_lite.flow._model import FlowSpec
from promptflow_lite.ui._widgets import error_text

_DONE = object()


class AnswerStream:
    """Iterate to get the answer's chunks; afterwards ``outputs``, ``error`` and ``trace_id`` are set."""

    def __init__(self, folder: Path, spec: FlowSpec, question: str, history: list[dict[str, Any]]):
        self.outputs: dict[str, Any] = {}
        self.error: str | None = None
        self.trace_id: str | None = None
        self._chunks: queue.Queue = queue.Queue()
        inputs = {spec.chat_input: question}
        if spec.chat_history_input:
            inputs[spec.chat_history_input] = history
        self._chat_output = spec.chat_output or next(iter(spec.outputs), None)
        self._thread = threading.Thread(target=self._run, args=(folder, inputs), daemon=True)
        self._thread.start()

    def __iter__(self) -> Iterator[str]:
        while (chunk := self._chunks.get()) is not _DONE:
            yield chunk
        self._thread.join()

    def _run(self, folder: Path, inputs: dict[str, Any]) -> None:
        from promptflow_lite.engine._flow import working_directory
        from promptflow_lite.engine._load import load_flow
        from promptflow_lite.engine._sync import run_sync
        from promptflow_lite.tracing import enable_tracing, flush_tracing

        try:
            traced = enable_tracing()
            flow = load_flow(folder)
            with working_directory(getattr(flow, "run_dir", flow.working_dir)):
                run_sync(self._turn(flow, inputs))
            if traced:
                flush_tracing()
        except Exception as exc:  # noqa: BLE001 - shown as a message
            self.error = error_text(exc)
        finally:
            self._chunks.put(_DONE)

    async def _turn(self, flow, inputs: dict[str, Any]) -> None:
        result = await flow.arun(inputs, stream=True, chat_mode=True)
        self.trace_id = result.trace_id
        if not result.ok:
            self.error = (result.error or {}).get("message") or "The flow failed."
            return
        for key, value in list(result.outputs.items()):
            if inspect.isasyncgen(value) or inspect.isgenerator(value):
                parts = []
                if inspect.isasyncgen(value):
                    async for chunk in value:
                        parts.append(self._emit(key, chunk))
                else:
                    parts = [self._emit(key, chunk) for chunk in value]
                result.outputs[key] = "".join(parts)
            elif key == self._chat_output:
                self._emit(key, value if isinstance(value, str) else str(value))
        self.outputs = result.outputs

    def _emit(self, key: str, chunk: Any) -> str:
        text = str(chunk)
        if key == self._chat_output:
            from promptflow_lite.masking import mask_secrets

            self._chunks.put(mask_secrets(text))
        return text


def answer_stream(folder: Path, spec: FlowSpec, question: str, history: list[dict[str, Any]]) -> AnswerStream:
    return AnswerStream(folder, spec, question, history)
