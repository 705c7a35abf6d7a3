"""Model calls made with the OpenAI SDK in user code become spans (promptflow's ``inject_openai_api``).

While tracing is on, ``create`` of the SDK's chat completions, completions and embeddings
resources (sync and async) reports each call with :func:`~promptflow_lite.tools._observe.model_call`:
an LLM / Embedding span under the running node, whose tokens count in the node's and line's. A
streamed call's record ends when its stream is consumed. Calls pass through unchanged (same
result, same exceptions). Clients marked ``observe.RECORDED`` (our LLM tools', which record their
own calls) are skipped. Headers, query and body extras never reach the record.

Nothing of ``openai`` is imported here: :func:`instrument` patches each resource module that is
loaded already, and the others right after their first import (a finder on ``sys.meta_path``), so
a program that never uses these resources (our LLM tools send with ``post()``) never loads them;
:func:`uninstrument` undoes both.
"""

from __future__ import annotations

import functools
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any, Callable
from urllib.parse import urlsplit

from promptflow_lite.tools._observe import (
    RECORDED, ModelCall, model_call, record_response, recorded_async_stream, recorded_stream,
)

_TARGETS = {  # module → (resource class, api) pairs
    "openai.resources.chat.completions": (("Completions", "chat"), ("AsyncCompletions", "chat")),
    "openai.resources.completions": (("Completions", "completion"), ("AsyncCompletions", "completion")),
    "openai.resources.embeddings": (("Embeddings", "embedding"), ("AsyncEmbeddings", "embedding")),
}
_originals: dict[type, Callable[..., Any]] = {}  # patched class → its own create
_lock = threading.RLock()


def instrument() -> None:
    """Record the SDK's model calls from now on (idempotent)."""
    with _lock:
        if _FINDER not in sys.meta_path:
            sys.meta_path.insert(0, _FINDER)
        for name in _TARGETS:
            if name in sys.modules:
                _patch(sys.modules[name])


def uninstrument() -> None:
    """Give the SDK back its own methods."""
    with _lock:
        if _FINDER in sys.meta_path:
            sys.meta_path.remove(_FINDER)
        for cls, create in _originals.items():
            cls.create = create
        _originals.clear()


def _patch(module: Any) -> None:
    """Wrap ``create`` of the resource classes of ``module`` (one of ``_TARGETS``)."""
    for name, api in _TARGETS[module.__name__]:
        cls = getattr(module, name, None)
        if isinstance(cls, type) and cls not in _originals and "create" in cls.__dict__:
            _originals[cls] = create = cls.__dict__["create"]
            cls.create = _traced(create, api, name.startswith("Async"))


def _traced(create: Callable[..., Any], api: str, is_async: bool) -> Callable[..., Any]:
    if is_async:  # ``create`` may be a plain function returning a coroutine (``required_args``)
        @functools.wraps(create)
        async def traced_async(self: Any, *args: Any, **kwargs: Any) -> Any:
            if _skipped(self):
                return await create(self, *args, **kwargs)
            with ExitStack() as stack:
                call = stack.enter_context(_record(self._client, api, kwargs))
                return _received(await create(self, *args, **kwargs), call, stack, recorded_async_stream)
        return traced_async

    @functools.wraps(create)
    def traced(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _skipped(self):
            return create(self, *args, **kwargs)
        with ExitStack() as stack:
            call = stack.enter_context(_record(self._client, api, kwargs))
            return _received(create(self, *args, **kwargs), call, stack, recorded_stream)
    return traced


def _skipped(resource: Any) -> bool:
    """Not recorded: tracing stopped (a wrapper bound before), or a client whose calls are recorded already."""
    return not _originals or getattr(getattr(resource, "_client", None), RECORDED, False)


def _record(client: Any, api: str, kwargs: dict[str, Any]) -> Any:
    request = {k: v for k, v in kwargs.items() if not k.startswith("extra_") and k != "timeout"
               and not isinstance(v, Iterator)  # rendering would consume what the SDK is about to send
               and type(v).__name__ not in ("NotGiven", "Omit")}
    url = urlsplit(str(getattr(client, "base_url", "")))  # no user, password or query: host, port and path
    endpoint = f"{url.scheme}://{url.netloc.rpartition('@')[2]}{url.path}" if url.netloc else ""
    secrets = tuple(s for s in (getattr(client, "api_key", None), getattr(client, "_azure_ad_token", None))
                    if isinstance(s, str) and s)
    provider = "AzureOpenAI" if "Azure" in type(client).__name__ else "OpenAI"
    return model_call(api, request, provider=provider, endpoint=endpoint, secrets=secrets)


def _received(result: Any, call: ModelCall, record: ExitStack, chunks: Callable[..., Any]) -> Any:
    """The SDK's result, unchanged: a stream keeps the record open until it is consumed."""
    try:
        if call.request.get("stream") is True and hasattr(result, "_iterator"):  # Stream / AsyncStream
            result._iterator = chunks(result._iterator, call, record.pop_all())
        elif hasattr(result, "model_dump"):  # raw responses (``with_raw_response``) are not read
            record_response(call, result.model_dump(mode="json"))
    except Exception:  # recording must never cost the caller their result
        logging.getLogger(__name__).debug("openai: response not recorded", exc_info=True)
    return result


class _PatchOnImport:
    """A ``sys.meta_path`` finder that patches a resource module right after it is first imported."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name not in _TARGETS:
            return None
        for finder in sys.meta_path:
            if finder is not self and hasattr(finder, "find_spec"):
                spec = finder.find_spec(name, path, target)
                if spec is not None:
                    if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                        spec.loader = _PatchingLoader(spec.loader)
                    return spec
        return None


class _PatchingLoader:
    """The package's own loader, then :func:`_patch`; the module keeps its own loader."""

    def __init__(self, loader: Any):
        self.loader = loader

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        module.__loader__ = module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        with _lock:
            if _FINDER in sys.meta_path:  # still tracing
                _patch(module)


_FINDER = _PatchOnImport()
