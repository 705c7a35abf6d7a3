"""The scripted OpenAI API: routing, API keys, latency, fault injection, rules and introspection.

:class:`ScriptedApp` turns one HTTP request into one reply; it knows nothing of sockets or
threads (see :mod:`promptflow_lite.testing._server`). Its settings (``latency``, ``fail_rate``,
``fail_kinds``, ``retry_after``, ``hang_seconds``, ``api_key``, ``echo_key``, ``rules``) are plain
attributes, read on every request, so tests may change them while the server runs.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import threading
from collections import Counter, deque
from typing import Any, AsyncIterator, Callable, Iterable

from promptflow_lite.errors import UserError
from promptflow_lite.testing import _responses as r
from promptflow_lite.testing._embeddings import embed, encode_base64
from promptflow_lite.testing._http import DROP, Reply, Request, Response, Stream
from promptflow_lite.testing._rules import Answer, Hit, RuleSet, RulesSource, load_rules, scripted_answer

FAULT_KINDS = ("429", "500", "timeout", "drop", "malformed")
ECHO_KINDS = ("full", "elided")  # how an error message shows the request's key (as careless endpoints do)
MODELS = ["gpt-4o", "gpt-4o-mini", "gpt-35-turbo", "gpt-35-turbo-instruct", "text-embedding-3-small",
          "text-embedding-ada-002"]
API_ROUTE = re.compile(r"^(?:/v1|/openai/deployments/(?P<deployment>[^/]+))?/(?P<endpoint>chat/completions|"
                       r"completions|embeddings)$")
SECRET_HEADERS = re.compile(r"authorization|cookie|.*key.*", re.I)
MALFORMED_BODY = b'{"id": "scripted-malformed", "object": "chat.completion", "choices": [{"mess'

Planned = tuple[float, Reply]  # extra latency in seconds, reply


class BadInput(Exception):
    """The request body is not a valid request for this endpoint (answered with 400)."""


class ScriptedApp:
    """Answers OpenAI API requests from rules, with configurable latency and injected faults."""

    def __init__(self, rules: RulesSource = None, *, latency: float = 0.0, fail_rate: float = 0.0,
                 fail_kinds: Iterable[str] | str = ("429", "500"), retry_after: float = 0.05,
                 api_key: str | None = None, seed: int = 0, hang_seconds: float = 30.0,
                 max_recorded: int = 1000, echo_key: str | None = None):
        self.rules = rules
        self.latency = latency
        self.fail_rate = fail_rate
        self.fail_kinds = fail_kinds
        self.retry_after = retry_after
        self.api_key = api_key
        self.echo_key = echo_key
        self.seed = seed
        self.hang_seconds = hang_seconds
        self._lock = threading.Lock()
        self._recorded: deque[dict] = deque(maxlen=max_recorded)
        self.reset()

    # ------------------------------------------------------------ settings

    @property
    def rules(self) -> list:
        return self._ruleset.rules

    @rules.setter
    def rules(self, source: RulesSource) -> None:
        self._ruleset = RuleSet(load_rules(source))

    @property
    def fail_rate(self) -> float:
        return self._fail_rate

    @fail_rate.setter
    def fail_rate(self, value: float) -> None:
        if not 0.0 <= float(value) <= 1.0:
            raise UserError(f"fail_rate must be between 0 and 1, got {value}.")
        self._fail_rate = float(value)

    @property
    def fail_kinds(self) -> tuple[str, ...]:
        return self._fail_kinds

    @fail_kinds.setter
    def fail_kinds(self, kinds: Iterable[str] | str) -> None:
        kinds = tuple(str(kind).strip() for kind in (kinds.split(",") if isinstance(kinds, str) else kinds))
        unknown = [kind for kind in kinds if kind not in FAULT_KINDS]
        if unknown or not kinds:
            raise UserError(f"Unknown fault kinds {unknown or kinds}.", hint="choose from " + ", ".join(FAULT_KINDS))
        self._fail_kinds = kinds

    @property
    def echo_key(self) -> str | None:
        """``"full"`` / ``"elided"``: every error message ends with the key the request sent, whole or as
        OpenAI's 401 shows it (first 8 characters, ``*``, last 4); None: never."""
        return self._echo_key

    @echo_key.setter
    def echo_key(self, kind: str | None) -> None:
        if kind not in (None, *ECHO_KINDS):
            raise UserError(f"Unknown echo_key {kind!r}.", hint="choose from " + ", ".join(ECHO_KINDS))
        self._echo_key = kind

    # ------------------------------------------------------------ introspection

    @property
    def stats(self) -> dict[str, Any]:
        """Counts so far: ``requests``, ``paths``, ``statuses``, ``faults``, ``in_flight``, ``max_in_flight``."""
        with self._lock:
            return {key: dict(value) if isinstance(value, Counter) else value for key, value in self._stats.items()}

    @property
    def requests(self) -> list[dict]:
        """The latest requests received: method, path, query, client address, headers (secrets redacted), JSON body."""
        with self._lock:
            return list(self._recorded)

    def reset(self) -> None:
        """Forget counts, recorded requests and ``fail_first`` counters; restart the fault RNG from ``seed``."""
        with self._lock:
            self._stats: dict[str, Any] = {"requests": 0, "paths": Counter(), "statuses": Counter(),
                                           "faults": Counter(), "in_flight": 0, "max_in_flight": 0}
            self._recorded.clear()
            self._rng = random.Random(self.seed)
            self._ruleset.reset()

    # ------------------------------------------------------------ request handling

    async def handle(self, request: Request) -> Reply:
        body = self._record(request)
        self._count(in_flight=+1)
        try:
            reply = await self._route(request, body)
        finally:
            self._count(in_flight=-1)
        if self._echo_key and isinstance(reply, Response) and reply.status >= 400:
            reply = _with_key(reply, _shown_key(_given_key(request.headers), self._echo_key))
        if reply is not DROP:
            self._count(status=reply.status)
        return reply

    async def _route(self, request: Request, body: Any) -> Reply:
        path = request.path.rstrip("/") or "/"
        if path == "/health":
            return Response.json({"status": "ok"})
        api = API_ROUTE.match(path)
        if not api and path not in ("/v1/models", "/models"):
            return _error(404, f"Unknown path {request.method} {request.path}.", "unknown_url")
        if not self._authorized(request.headers):
            return _error(401, "Incorrect API key provided. You can find your API key in your account settings.",
                          "invalid_api_key")
        if not api:
            return Response.json(r.model_list(MODELS)) if request.method == "GET" else _method_not_allowed(request)
        if request.method != "POST":
            return _method_not_allowed(request)
        if not isinstance(body, dict):
            return _error(400, "The request body must be a JSON object.", "invalid_request")
        fault = self._roll_fault()
        if fault and fault != "timeout":
            await _sleep(self.latency)
            return self._fault_reply(fault)
        if fault == "timeout":
            await asyncio.sleep(self.hang_seconds)
        try:
            model = api["deployment"] or _require(body, "model", str)
            extra_latency, reply = self._endpoints[api["endpoint"]](self, body, model)
        except BadInput as exc:
            return _error(400, str(exc), "invalid_request")
        await _sleep(self.latency + extra_latency)
        return reply

    def _authorized(self, headers: dict[str, str]) -> bool:
        return not self.api_key or _given_key(headers) == self.api_key

    def _roll_fault(self) -> str | None:
        with self._lock:
            if self._fail_rate <= 0 or self._rng.random() >= self._fail_rate:
                return None
            kind = self._rng.choice(self._fail_kinds)
            self._stats["faults"][kind] += 1
            return kind

    def _fault_reply(self, kind: str) -> Reply:
        if kind == "429":
            seconds = float(self.retry_after)
            headers = {"retry-after": f"{seconds:g}", "retry-after-ms": f"{seconds * 1000:g}"}
            message = f"Rate limit reached for requests. Please try again in {seconds * 1000:g}ms."
            return Response.json(r.error_body(429, message, "rate_limit_exceeded"), 429, headers)
        if kind == "500":
            return _error(500, "The server had an error while processing your request. Sorry about that!")
        if kind == "drop":
            return DROP
        return Response(200, MALFORMED_BODY)

    # ------------------------------------------------------------ endpoints

    def _chat(self, body: dict, model: str) -> Planned:
        messages = _require(body, "messages", list)
        if not all(isinstance(message, dict) for message in messages):
            raise BadInput("'messages' must be a list of objects with 'role' and 'content'.")
        text = r.chat_prompt_text(messages)
        hit = self._ruleset.find(text, model)
        extra = hit.rule.latency_ms / 1000 if hit else 0.0
        if hit and (error := self._scripted_error(hit, text)):
            return extra, error
        answer = hit.rule.answer(hit.found) if hit else self._default_answer(text, model, body.get("response_format"))
        if answer.content is not None:
            content, reason = r.limit(answer.content, body.get("max_completion_tokens") or body.get("max_tokens"),
                                      body.get("stop"))
            answer = answer._replace(content=content, finish_reason=reason or answer.finish_reason)
        answers = [answer] * _choices(body)
        legacy = bool(body.get("functions")) and not body.get("tools")
        prompt_tokens = r.count_tokens(text)
        if body.get("stream"):
            return extra, _sse(r.chat_chunks(model, answers, prompt_tokens, _include_usage(body), legacy))
        return extra, Response.json(r.chat_completion(model, answers, prompt_tokens, legacy))

    def _completions(self, body: dict, model: str) -> Planned:
        prompts = r.completion_prompts(body.get("prompt", ""))
        texts, extra, completion_tokens = [], 0.0, 0
        for prompt in prompts:
            hit = self._ruleset.find(prompt, model)
            if hit:
                extra = max(extra, hit.rule.latency_ms / 1000)
                if error := self._scripted_error(hit, prompt):
                    return extra, error
            answer = hit.rule.answer(hit.found) if hit else self._default_answer(prompt, model, None)
            text, reason = r.limit(answer.content or "", body.get("max_tokens"), body.get("stop"))
            completion_tokens += r.count_tokens(text) * _choices(body)
            text = (prompt if body.get("echo") else "") + text
            texts += [(text, reason or answer.finish_reason)] * _choices(body)
        tokens = (sum(r.count_tokens(prompt) for prompt in prompts), completion_tokens)
        if body.get("stream"):
            return extra, _sse(r.completion_chunks(model, texts, *tokens, _include_usage(body)))
        return extra, Response.json(r.text_completion(model, texts, *tokens))

    def _embeddings(self, body: dict, model: str) -> Planned:
        raw = body.get("input")
        if isinstance(raw, str) or (isinstance(raw, list) and raw and all(isinstance(x, int) for x in raw)):
            raw = [raw]
        if not isinstance(raw, list) or not raw:
            raise BadInput("'input' must be a non-empty string or list of strings.")
        texts = [item if isinstance(item, str) else " ".join(map(str, item)) for item in raw]
        dimensions = body.get("dimensions") or 64
        if not isinstance(dimensions, int) or not 1 <= dimensions <= 8192:
            raise BadInput("'dimensions' must be an integer between 1 and 8192.")
        as_base64 = body.get("encoding_format") == "base64"
        vectors = [embed(text, dimensions) for text in texts]
        data = [encode_base64(vector) if as_base64 else vector for vector in vectors]
        return 0.0, Response.json(r.embedding_list(model, data, sum(r.count_tokens(text) for text in texts)))

    _endpoints: dict[str, Callable[..., Planned]] = {
        "chat/completions": _chat, "completions": _completions, "embeddings": _embeddings}

    def _scripted_error(self, hit: Hit, text: str) -> Response | None:
        rule = hit.rule
        if rule.status:
            if isinstance(rule.error, dict):
                return Response.json({"error": rule.error}, rule.status)
            return _error(rule.status, rule.error or f"Scripted error {rule.status}.")
        if rule.fail_first and self._ruleset.fails_now(hit, text):
            return _error(500, "Scripted transient failure (fail_first).")
        return None

    @staticmethod
    def _default_answer(text: str, model: str, response_format: Any) -> Answer:
        answer = scripted_answer(text, model)
        return Answer(r.json_for_format(response_format, answer) or answer, finish_reason="stop")

    # ------------------------------------------------------------ bookkeeping

    def _record(self, request: Request) -> Any:
        try:
            body = request.json()
        except ValueError:
            body = request.body.decode("utf-8", "replace")
        headers = {name: "<redacted>" if SECRET_HEADERS.fullmatch(name) else value
                   for name, value in request.headers.items()}
        with self._lock:
            self._stats["requests"] += 1
            self._stats["paths"][request.path] += 1
            self._recorded.append({"method": request.method, "path": request.path, "query": request.query,
                                   "client": request.peer, "headers": headers, "body": body})
        return body

    def _count(self, in_flight: int = 0, status: int | None = None) -> None:
        with self._lock:
            stats = self._stats
            stats["in_flight"] += in_flight
            stats["max_in_flight"] = max(stats["max_in_flight"], stats["in_flight"])
            if status is not None:
                stats["statuses"][status] += 1


def _given_key(headers: dict[str, str]) -> str:
    bearer = headers.get("authorization", "")
    return bearer[7:].strip() if bearer.lower().startswith("bearer ") else headers.get("api-key", "")


def _shown_key(key: str, kind: str) -> str:
    return key if kind == "full" else key[:8] + "*" * max(len(key) - 12, 3) + key[-4:]


def _with_key(reply: Response, shown: str) -> Response:
    """An error reply whose message ends with the request's key."""
    body = json.loads(reply.body)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        error["message"] = f"{str(error.get('message') or '').rstrip('.')}. API key provided: {shown}."
        reply = Response(reply.status, json.dumps(body, separators=(",", ":")).encode(), reply.headers,
                         reply.content_type)
    return reply


def _require(body: dict, name: str, kind: type) -> Any:
    value = body.get(name)
    if not isinstance(value, kind) or not value:
        raise BadInput(f"You must provide a '{name}' parameter.")
    return value


def _choices(body: dict) -> int:
    n = body.get("n") or 1
    if not isinstance(n, int) or not 1 <= n <= 128:
        raise BadInput("'n' must be an integer between 1 and 128.")
    return n


def _include_usage(body: dict) -> bool:
    return bool((body.get("stream_options") or {}).get("include_usage"))


def _error(status: int, message: str, code: str | None = None) -> Response:
    return Response.json(r.error_body(status, message, code), status)


def _method_not_allowed(request: Request) -> Response:
    return _error(405, f"Method {request.method} is not allowed on {request.path}.", "method_not_allowed")


async def _sleep(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)


def _sse(chunks: Iterable[dict]) -> Stream:
    """Server-sent events: one ``data: {json}`` event per chunk, then ``data: [DONE]``."""

    async def events() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"
        yield b"data: [DONE]\n\n"

    return Stream(events())
