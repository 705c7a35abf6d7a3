"""What the executor's hooks hand to the trace writer: length-prefixed frames of bytes.

The hooks only note ids (:mod:`.executor`); a finished line becomes one ``LINE`` frame: the
``header`` (``LineHeader`` below) then the line's record (``LineResult.to_json``, shared with the
run journal: the line is encoded once) as UTF-8 JSON text. The header is in :mod:`marshal` format
(the writer runs the same Python; a few times cheaper than JSON for the hooks), or JSON when an
attribute is not a plain value (the writer gets it as JSON made it, as before).
The writer (:mod:`.writer`, in its own process or a thread) decodes it and renders the spans. Other frames: ``NODE`` (a node traced
outside any line), ``SECRET`` (a value to blank from now on; sent before any frame that could
hold it), ``FLUSH`` (acknowledge once everything before is stored), ``CONFIG`` (the writer
process's first frame).

A frame is ``kind`` (1 byte), ``length`` (4 bytes, little endian), then ``length`` bytes.
"""

from __future__ import annotations

import json
import marshal
import struct
import types
from typing import Any, NamedTuple

from promptflow_lite.tracing._ids import span_hex, trace_hex
from promptflow_lite.tracing._serialize import dumps, dumps_any, to_json

LINE, NODE, SECRET, FLUSH, CONFIG = b"LNSFC"
_HEAD = struct.Struct("<BI")
_LINE_HEAD = struct.Struct("<BIcI")  # the frame's head, then the header's format (m: marshal, j: JSON) and length
_STREAMS = (types.GeneratorType, types.AsyncGeneratorType)
_PLAIN = frozenset((str, int, float, bool, type(None)))


class LineHeader(NamedTuple):
    """What the hooks know about a line beyond its journal entry."""

    trace_id: str
    span_id: str
    parent_id: str | None
    parent_is_remote: bool
    is_root: bool  # the first span of this trace recorded here (no parent, or not one of ours)
    name: str
    collection: str | None
    attributes: dict[str, Any]
    # (name, node_type) per node span, in start order; or, when the engine made no node calls, the flow's
    # node types by name: the node spans are then the entry's node runs that started (:func:`started`)
    nodes: list[tuple[str, str]] | dict[str, str]
    # the span ids made by the hooks, by position in ``nodes`` or by name (others: the writer's)
    node_ids: dict[int, str] | dict[str, str] | None
    streamed: list[int] | list[str] | None  # the nodes whose output is a stream (positions or names, as node_ids)
    inputs: str | None  # the span's inputs as JSON text when they are not the entry's (flex: before defaults)


class NodeHeader(NamedTuple):
    trace_id: str
    span_id: str
    parent_id: str | None
    is_root: bool
    name: str
    node_type: str
    streamed: bool


def pack(kind: int, body: bytes) -> bytes:
    return _HEAD.pack(kind, len(body)) + body


def unpack(buffer: bytes | bytearray) -> tuple[list[tuple[int, bytes]], int]:
    """The complete frames at the start of ``buffer`` and how many bytes they take."""
    frames, offset, size = [], 0, len(buffer)
    while offset + _HEAD.size <= size:
        kind, length = _HEAD.unpack_from(buffer, offset)
        end = offset + _HEAD.size + length
        if end > size:
            break
        frames.append((kind, bytes(buffer[offset + _HEAD.size:end])))
        offset = end
    return frames, offset


# the hooks' side -----------------------------------------------------------------------------
def line_frame(line: Any, result: Any, collection: str | None) -> bytes:
    """The ``LINE`` frame of a finished line (an :class:`.executor.LineSpan` and its ``LineResult``)."""
    parent, ids, nodes = line.parent, line.node_ids, line.nodes
    plain, entry = _entry_text(result)
    header = (result.trace_id, span_hex(line.span_id), span_hex(parent.span_id) if parent is not None else None,
              parent is not None and parent.is_remote, line.root, line.name, collection, line.attributes,
              line.types if nodes is None else [node[:2] for node in nodes],
              {key: span_hex(span_id) for key, span_id in ids.items()} if ids else None,
              None if plain else _streamed(nodes, result.node_runs),  # JSON holds no generator
              None if line.inputs is result.inputs else to_json(line.inputs))
    head = _marshalled(header, line.attributes)
    form = b"m" if head is not None else b"j"  # JSON renders other values as the writer expects
    if head is None:
        head = _utf8(dumps_any(header))
    body = entry.encode("utf-8", "surrogatepass")
    return b"".join((_LINE_HEAD.pack(LINE, len(head) + len(body) + 5, form, len(head)), head, body))


def decode_line(body: bytes) -> tuple[LineHeader, dict[str, Any]]:
    """The header and the journal entry of a ``LINE`` frame's body."""
    form, size = body[:1], int.from_bytes(body[1:5], "little")
    head = memoryview(body)[5:5 + size]
    if form == b"m":
        header = LineHeader(*marshal.loads(head))
    else:
        header = LineHeader(*json.loads(bytes(head)))
        if header.node_ids and isinstance(header.nodes, list):  # JSON made the positions strings
            header = header._replace(node_ids={int(index): span for index, span in header.node_ids.items()})
    return header, json.loads(body[5 + size:].decode("utf-8", "surrogatepass"))


def _marshalled(header: tuple, attributes: dict[str, Any]) -> bytes | None:
    """``header`` in marshal form; None when an attribute is not a string, number, bool or None,
    or marshal cannot write a value."""
    for value in attributes.values():
        if type(value) not in _PLAIN:
            return None
    try:
        return marshal.dumps(header)
    except ValueError:  # a str subclass as the flow's name...
        return None


def _streamed(nodes: list | None, runs: dict) -> list[int] | list[str] | None:
    """The nodes whose output is a stream (a generator): positions in ``nodes``, or names when it is None."""
    if nodes is None:
        found: list = [name for name, run in runs.items() if _streams(run)]
    else:
        found = [index for index, (name, _, _, _) in enumerate(nodes)
                 if (run := runs.get(name)) is not None and _streams(run)]
    return found or None


def _streams(run: Any) -> bool:
    return run.status == "Completed" and isinstance(run.output, _STREAMS)


def started(run: dict[str, Any]) -> bool:
    """Whether a node run of a line's entry had a span: it was neither bypassed nor failed before it
    started (while its inputs were being resolved: it has none)."""
    status = run["status"]
    return status != "Bypassed" and (status != "Failed" or run.get("inputs") is not None)


def _entry_text(result: Any) -> tuple[bool, str]:
    """Whether the line's values are plain JSON, and its entry as JSON text: the journal's text
    when it holds the values exactly, else the values rendered as spans show them."""
    try:
        if result.json_is_exact:
            return True, result.to_json()
    except Exception:  # noqa: BLE001 - the journal's problem, not the trace's
        pass
    return False, dumps_any(result.to_dict())


def node_frame(node: Any, run: Any) -> bytes:
    """The ``NODE`` frame of a node traced outside any line (a single-node test)."""
    parent = node.parent
    header = [trace_hex(node.trace_id), span_hex(node.span_id), span_hex(parent.span_id) if parent else None,
              node.root, node.name, node.node_type,
              run.status == "Completed" and isinstance(run.output, _STREAMS)]
    return pack(NODE, _utf8("[" + dumps(header) + "," + dumps_any(run.to_dict()) + "]"))


def secret_frame(secret: str) -> bytes:
    return pack(SECRET, _utf8(secret))


def flush_frame(number: int) -> bytes:
    return pack(FLUSH, number.to_bytes(8, "little"))


def config_frame(config: dict[str, Any]) -> bytes:
    return pack(CONFIG, _utf8(dumps(config)))


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # a lone surrogate from user data must not break the frame


def decode(body: bytes) -> Any:
    """A frame's JSON body."""
    return json.loads(body.decode("utf-8", "surrogatepass"))
