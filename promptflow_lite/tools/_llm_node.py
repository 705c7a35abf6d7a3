"""A ``type: llm`` node made callable (FLOW_FORMAT §1.6, §2.7).

The provider comes from the connection's class, never from the node's ``provider`` key; the
API is ``{provider}.{api}`` from :data:`._builtin.LLM_APIS`; the template file is the prompt (a node
input named ``prompt`` replaces it) and the other node inputs are API arguments or template variables.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from promptflow_lite.tools._builtin import (
    ASYNC_TWINS, LLM_APIS, APINotFound, api_parameters, llm_provider,
)
from promptflow_lite.tools._coercion import ParamType, param_types
from promptflow_lite.tools._template import check_template, clashing_variables


def make_llm_caller(connection: Any, api: str, template: str,
                    node: str | None = None) -> tuple[Callable[..., Any], dict[str, ParamType]]:
    """An async callable for a ``type: llm`` node and the parameter types of its API.

    The provider comes from the connection's class (§1.6); template variables that collide
    with the API's parameters are rejected as promptflow does. Call it with the node's inputs.
    """
    provider = llm_provider(connection)
    _check_endpoint(connection, node)
    if (provider, api) not in LLM_APIS:
        raise APINotFound(f"The API '{provider}.{api}' is not found.", node=node,
                          hint="set `api: chat` or `api: completion` on the node.")
    check_template(template)
    clashing_variables(template, api_parameters(provider, api), node, f"the parameters of {provider}.{api}")
    sync_func = LLM_APIS[(provider, api)]
    func = ASYNC_TWINS[sync_func]

    async def call_llm(**inputs: Any) -> Any:
        # promptflow binds the file with functools.partial, so a node input named `prompt` wins
        return await func(connection, inputs.pop("prompt", template), **inputs)

    params = list(inspect.signature(sync_func).parameters.values())[2:]
    call_llm.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    types = {k: v for k, v in param_types(sync_func).items() if k not in ("connection", "prompt")}
    return call_llm, types


def _check_endpoint(connection: Any, node: str | None) -> None:
    """A bad endpoint URL or an unresolved placeholder fails the flow's load, before any line is sent
    (a missing key stays an error of the call, as in promptflow)."""
    from promptflow_lite.tools._llm_client import InvalidConnectionType, InvalidEndpoint, resolve_endpoint

    try:
        resolve_endpoint(connection)
    except InvalidConnectionType:
        pass
    except InvalidEndpoint as exc:
        raise exc.locate(node=node) from None
