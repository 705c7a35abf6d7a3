"""``PFClient().connections`` and ``PFClient().flows``: promptflow's operation groups on our stores.

Scripts written for promptflow call ``pf.connections.create_or_update(conn)``, ``pf.connections.get(name)``
(secrets masked unless ``with_secrets=True``), ``pf.flows.test(flow, inputs=...)`` and ``pf.test(...)``;
these are thin adapters with promptflow's signatures and defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from promptflow_lite.errors import UserError
from promptflow_lite.tools._coercion import load_json


class ConnectionOperations:
    """``pf.connections``: the local connection store under the client's home."""

    def __init__(self, home: Path):
        from promptflow_lite.connections._store import ConnectionStore

        self._store = ConnectionStore(home)

    def list(self, max_results: int | None = None, all_results: bool = False, **_ignored: Any) -> list:
        found = self._store.list()
        return found if all_results or max_results is None else found[:max_results]

    def get(self, name: str, with_secrets: bool = False, **_ignored: Any):
        return self._store.get(name, with_secrets=with_secrets)

    def create_or_update(self, connection: Any, **_ignored: Any):
        return self._store.create_or_update(connection)

    def delete(self, name: str) -> None:
        self._store.delete(name)


class FlowOperations:
    """``pf.flows``: test and validate flows."""

    def __init__(self, connections: Any = None):
        self._connections = connections

    def test(self, flow: str | Path, *, inputs: dict[str, Any] | str | Path | None = None, variant: str | None = None,
             node: str | None = None, environment_variables: dict[str, Any] | None = None,
             init: dict[str, Any] | None = None, **_ignored: Any) -> Any:
        """The outputs of one line (of ``node`` alone with ``node``); raises ``FlowTestError`` when it fails.

        ``inputs`` is a dict, or a ``.json`` file / the first line of a ``.jsonl`` file."""
        from promptflow_lite.engine._flow_test import run_flow_test

        outcome = run_flow_test(flow, read_test_inputs(inputs), node=node, variant=variant,
                                environment_variables=environment_variables, init=init, connections=self._connections)
        if not outcome.ok:
            raise FlowTestError(outcome.error or {})
        return outcome.outputs

    def validate(self, flow: str | Path, *, init: dict[str, Any] | None = None, **_ignored: Any) -> list:
        """The problems of a flow (an empty list when it is valid)."""
        from promptflow_lite.engine._validate import validate_flow

        return validate_flow(flow, init)[1]


class FlowTestError(UserError):
    """A ``pf.test`` line failed; the message is the line's error."""

    def __init__(self, error: dict[str, Any]):
        self.error = error
        inner = (error.get("innerError") or {}).get("code") or error.get("code", "Error")
        super().__init__(f"{inner}: {error.get('message', 'the flow failed')}")


def _first_record(text: str) -> Any:
    """The first line of a JSON Lines text, or the whole text when it is one JSON value spread over lines."""
    try:
        return load_json(text.strip().split("\n")[0])  # JSON Lines split on line breaks only
    except ValueError:
        return load_json(text)


def read_test_inputs(inputs: dict[str, Any] | str | Path | None) -> dict[str, Any]:
    """A test's inputs: the dict itself, or read from a JSON file (the first line of a ``.jsonl`` one)."""
    if inputs is None or isinstance(inputs, dict):
        return dict(inputs or {})
    path = Path(inputs)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"Cannot read inputs file: {exc.strerror}.", file=str(path)) from None
    if not text.strip():
        raise UserError("The inputs file is empty.", file=str(path), hint="write one JSON object of input values.")
    try:
        data = load_json(text) if path.suffix != ".jsonl" else _first_record(text)
    except ValueError as exc:
        raise UserError(f"The inputs file is not valid JSON: {exc}.", file=str(path),
                        hint="write one JSON object of input values.") from None
    if not isinstance(data, dict):
        raise UserError("The inputs file must hold a JSON object.", file=str(path))
    return data
