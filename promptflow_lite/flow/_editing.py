"""Edits of a ``FlowDocument`` as a flow author thinks of them: nodes, their fields and inputs, flow
inputs and outputs, variants.

Every function changes ``doc.data`` in place (keeping key order, comments and quoting of what it does not
touch) and raises ``UserError`` with the fix when an edit would break the flow: a duplicate name, a node
or input still referenced by others (the message lists them).
"""

from __future__ import annotations

import copy
import re
from typing import Any, Iterator

from promptflow_lite.errors import UserError
from promptflow_lite.flow._document import FlowDocument
from promptflow_lite.flow._reference import InputRef, NodeRef, parse_reference

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RESERVED = ("inputs", "flow", "outputs")
_UNSET: Any = object()


class InUse(UserError):
    """A node or flow input cannot go: others refer to it (``users`` names them)."""

    def __init__(self, what: str, users: list[str]):
        super().__init__(f"{what} is used by {', '.join(users)}.", hint="remove or change those references first.")
        self.users = users


# lookup ---------------------------------------------------------------------------------
def _map(pairs: list[tuple[str, Any]] | None = None):
    from ruamel.yaml.comments import CommentedMap

    return CommentedMap(pairs or [])


def nodes(doc: FlowDocument) -> list:
    value = doc.data.get("nodes")
    if value is None:
        from ruamel.yaml.comments import CommentedSeq

        doc.data["nodes"] = value = CommentedSeq()
    return value


def node_names(doc: FlowDocument) -> list[str]:
    return [str(n.get("name")) for n in nodes(doc) if isinstance(n, dict)]


def node_map(doc: FlowDocument, name: str) -> Any:
    """The node's own mapping (for a ``use_variants`` node, just its name and flag)."""
    for node in nodes(doc):
        if isinstance(node, dict) and str(node.get("name")) == name:
            return node
    raise UserError(f"Node '{name}' is not in the flow.", file=str(doc.file),
                    hint=f"nodes: {', '.join(node_names(doc)) or 'none'}.")


def variants_of(doc: FlowDocument, name: str) -> Any:
    """The ``node_variants`` entry of a node, or None."""
    return (doc.data.get("node_variants") or {}).get(name)


def body(doc: FlowDocument, name: str, variant: str | None = None) -> Any:
    """The mapping that holds a node's type, source, inputs...: the node itself, or one of its variants
    (``variant=None`` on a ``use_variants`` node means its default variant)."""
    node = node_map(doc, name)
    entry = variants_of(doc, name)
    if not node.get("use_variants") or entry is None:
        if variant is not None:
            raise UserError(f"Node '{name}' has no variants.", file=str(doc.file), node=name)
        return node
    variant = variant or entry.get("default_variant_id")
    found = (entry.get("variants") or {}).get(variant)
    if found is None:
        raise UserError(f"Variant '{variant}' does not exist.", file=str(doc.file), node=name,
                        hint=f"variants: {', '.join(entry.get('variants') or {})}.")
    if found.get("node") is None:
        found["node"] = _map()
    return found["node"]


def _set(mapping: Any, key: str, value: Any) -> None:
    """Set ``mapping[key]``, keeping the old value's quoting for a new string; None removes the key."""
    if value is None:
        mapping.pop(key, None)
        return
    old = mapping.get(key)
    from ruamel.yaml.scalarstring import ScalarString

    if isinstance(old, ScalarString) and isinstance(value, str) and not isinstance(value, ScalarString):
        value = type(old)(value)
    mapping[key] = value


# references -------------------------------------------------------------------------------
def _reference_slots(doc: FlowDocument) -> Iterator[tuple[str, Any, Any]]:
    """``(where, mapping, key)`` of every value that may hold a ``${...}`` reference."""
    for node in nodes(doc):
        if isinstance(node, dict):
            yield from _node_slots(f"node '{node.get('name')}'", node)
    for name, entry in (doc.data.get("node_variants") or {}).items():
        for vid, variant in ((entry or {}).get("variants") or {}).items():
            if isinstance(variant, dict) and isinstance(variant.get("node"), dict):
                yield from _node_slots(f"node '{name}' (variant {vid})", variant["node"])
    for name, output in (doc.data.get("outputs") or {}).items():
        if isinstance(output, dict):
            yield f"output '{name}'", output, "reference"


def _node_slots(where: str, node: Any) -> Iterator[tuple[str, Any, Any]]:
    inputs = node.get("inputs")
    if isinstance(inputs, dict):
        for key in inputs:
            yield f"{where} input '{key}'", inputs, key
    activate = node.get("activate")
    if isinstance(activate, dict):
        yield f"{where} activate.when", activate, "when"


def node_users(doc: FlowDocument, name: str) -> list[str]:
    """Who refers to node ``name``: ``["node 'b' input 'x'", "output 'answer'", ...]``."""
    users = []
    for where, mapping, key in _reference_slots(doc):
        ref = parse_reference(mapping.get(key))
        if isinstance(ref, NodeRef) and ref.node == name and not where.startswith(f"node '{name}'"):
            users.append(where)
    return users


def input_users(doc: FlowDocument, name: str) -> list[str]:
    """Who refers to flow input ``name``."""
    return [where for where, mapping, key in _reference_slots(doc)
            if isinstance(ref := parse_reference(mapping.get(key)), InputRef) and ref.name == name]


def _retarget(value: Any, old: str, new: str, *, flow_input: bool) -> Any:
    ref = parse_reference(value)
    if flow_input and isinstance(ref, InputRef) and ref.name == old:
        prefix = value[2:].split(".", 1)[0]  # keep ${flow.x} as ${flow.x}
        text = f"${{{prefix}.{new}}}"
    elif not flow_input and isinstance(ref, NodeRef) and ref.node == old:
        text = "${" + new + value[2 + len(old):]
    else:
        return None
    from ruamel.yaml.scalarstring import ScalarString

    return type(value)(text) if isinstance(value, ScalarString) else text


def _rename_references(doc: FlowDocument, old: str, new: str, *, flow_input: bool) -> int:
    count = 0
    for _, mapping, key in list(_reference_slots(doc)):
        changed = _retarget(mapping.get(key), old, new, flow_input=flow_input)
        if changed is not None:
            mapping[key] = changed
            count += 1
    return count


def _rename_key(mapping: Any, old: str, new: str) -> None:
    """Rename a key in place, keeping its position and its comments."""
    keys = list(mapping.keys())
    position = keys.index(old)
    value = mapping.pop(old)
    mapping.insert(position, new, value)
    comments = getattr(mapping, "ca", None)
    if comments is not None and old in comments.items:
        comments.items[new] = comments.items.pop(old)


def _check_new_name(doc: FlowDocument, name: str, taken: list[str], what: str) -> None:
    if not NAME.match(name or "") or name in RESERVED:
        raise UserError(f"'{name}' is not a valid {what} name.", file=str(doc.file),
                        hint="use letters, digits and _ (not starting with a digit); not inputs/flow/outputs.")
    if name in taken:
        raise UserError(f"A {what} named '{name}' already exists.", file=str(doc.file), hint="choose another name.")


# nodes ------------------------------------------------------------------------------------
def rename_node(doc: FlowDocument, old: str, new: str) -> int:
    """Rename a node; every reference to it follows. Returns how many references changed."""
    node = node_map(doc, old)
    if new == old:
        return 0
    _check_new_name(doc, new, node_names(doc), "node")
    _set(node, "name", new)
    variants = doc.data.get("node_variants")
    if variants is not None and old in variants:
        _rename_key(variants, old, new)
    count = _rename_references(doc, old, new, flow_input=False)
    doc.touch()
    return count


def delete_node(doc: FlowDocument, name: str) -> None:
    """Delete a node (and its variants); refused with the list of users while others refer to it.
    Its source file stays on disk."""
    node = node_map(doc, name)
    users = node_users(doc, name)
    if users:
        raise InUse(f"Node '{name}'", users)
    nodes(doc).remove(node)
    variants = doc.data.get("node_variants")
    if variants is not None and name in variants:
        del variants[name]
        if not variants:
            del doc.data["node_variants"]
    doc.touch()


def add_node(doc: FlowDocument, name: str, node_type: str, *, source: str | None = None,
             inputs: dict[str, Any] | None = None, connection: str | None = None, api: str | None = None,
             aggregation: bool = False) -> str:
    """Append a node; a source file that does not exist yet gets a starting text (saved with the flow).
    Returns the source path."""
    _check_new_name(doc, name, node_names(doc), "node")
    if node_type not in ("python", "llm", "prompt"):
        raise UserError(f"Cannot add a node of type '{node_type}'.", hint="choose python, llm or prompt.")
    source = source or f"{name}.{'py' if node_type == 'python' else 'jinja2'}"
    inputs = dict(inputs or {})
    entry = _map([("name", name), ("type", node_type), ("source", _map([("type", "code"), ("path", source)])),
                  ("inputs", _map(list(inputs.items())))])
    if node_type == "llm":
        entry["connection"] = connection or "open_ai_connection"
        entry["api"] = api or "chat"
    if aggregation:
        entry["aggregation"] = True
    nodes(doc).append(entry)
    if not doc.source_exists(source):
        doc.set_source_text(source, starter_source(name, node_type, list(inputs)))
    doc.touch()
    return source


def starter_source(name: str, node_type: str, params: list[str]) -> str:
    """The first text of a new node's source file."""
    if node_type == "python":
        args = ", ".join(f"{p}: str" for p in params)
        first = params[0] if params else None
        body = f"return {first}" if first else 'return "hello"'
        return (f"from promptflow.core import tool\n\n\n@tool\ndef {name}({args}) -> str:\n    {body}\n")
    lines = [f"{{{{{p}}}}}" for p in params] or ["Say hello."]
    if node_type == "llm":
        return "system:\nYou are a helpful assistant.\n\nuser:\n" + "\n".join(lines) + "\n"
    return "\n".join(lines) + "\n"


def set_field(doc: FlowDocument, name: str, key: str, value: Any, variant: str | None = None) -> None:
    """Set (None: remove) a top-level field of a node: type, connection, api, aggregation..."""
    _set(body(doc, name, variant), key, value)
    doc.touch()


def set_source(doc: FlowDocument, name: str, path: str, variant: str | None = None) -> None:
    """Point a node at another source file (code type)."""
    node = body(doc, name, variant)
    source = node.get("source")
    if not isinstance(source, dict):
        node["source"] = source = _map([("type", "code")])
    _set(source, "path", path)
    doc.touch()


def set_input(doc: FlowDocument, name: str, key: str, value: Any, variant: str | None = None) -> None:
    """Set (None: remove) one input of a node: a literal or a ``${...}`` reference."""
    node = body(doc, name, variant)
    inputs = node.get("inputs")
    if not isinstance(inputs, dict):
        if value is None:
            return
        node["inputs"] = inputs = _map()
    _set(inputs, key, value)
    doc.touch()


def set_activate(doc: FlowDocument, name: str, when: str | None, is_: Any = None,
                 variant: str | None = None) -> None:
    """Run the node only when ``when`` equals ``is_``; ``when=None`` removes the condition."""
    node = body(doc, name, variant)
    if when is None:
        node.pop("activate", None)
    else:
        activate = node.get("activate")
        if not isinstance(activate, dict):
            node["activate"] = activate = _map()
        _set(activate, "when", when)
        activate["is"] = is_
    doc.touch()


def reference_choices(doc: FlowDocument, for_node: str | None = None) -> list[str]:
    """References a node's input may take: every flow input and every other node's output."""
    choices = [f"${{inputs.{name}}}" for name in (doc.data.get("inputs") or {})]
    choices += [f"${{{name}.output}}" for name in node_names(doc) if name != for_node]
    return choices


# flow inputs and outputs --------------------------------------------------------------------
def _section(doc: FlowDocument, key: str) -> Any:
    if not isinstance(doc.data.get(key), dict):
        doc.data[key] = _map()
    return doc.data[key]


def _entry(doc: FlowDocument, section: str, name: str, what: str, first: list[tuple[str, Any]], fields: dict) -> None:
    """Create ``doc.data[section][name]`` (from ``first``) if new, then set ``fields`` (None removes one)."""
    entries = _section(doc, section)
    if name not in entries:
        _check_new_name(doc, name, list(entries), what)
        entries[name] = _map(first)
    for key, value in fields.items():
        _set(entries[name], key, value)
    doc.touch()


def set_flow_input(doc: FlowDocument, name: str, type_: str | None = None, default: Any = _UNSET,
                   **flags: Any) -> None:
    """Add or change a flow input (``type_``, ``default``, ``is_chat_input``..., None removes a field)."""
    fields = {**({"type": type_} if type_ is not None else {}), **({"default": default} if default is not _UNSET
                                                                   else {}), **flags}
    _entry(doc, "inputs", name, "flow input", [("type", type_ or "string")], fields)


def rename_flow_input(doc: FlowDocument, old: str, new: str) -> int:
    """Rename a flow input; references follow."""
    inputs = _section(doc, "inputs")
    if new == old:
        return 0
    _check_new_name(doc, new, list(inputs), "flow input")
    _rename_key(inputs, old, new)
    count = _rename_references(doc, old, new, flow_input=True)
    doc.touch()
    return count


def remove_flow_input(doc: FlowDocument, name: str) -> None:
    """Remove a flow input; refused while nodes or outputs refer to it."""
    users = input_users(doc, name)
    if users:
        raise InUse(f"Flow input '{name}'", users)
    _section(doc, "inputs").pop(name, None)
    doc.touch()


def set_flow_output(doc: FlowDocument, name: str, reference: str | None = None, type_: str | None = None,
                    **flags: Any) -> None:
    """Add or change a flow output."""
    fields = {**({"type": type_} if type_ is not None else {}),
              **({"reference": reference} if reference is not None else {}), **flags}
    _entry(doc, "outputs", name, "flow output", [("type", type_ or "string"), ("reference", reference or "")], fields)


def remove_flow_output(doc: FlowDocument, name: str) -> None:
    _section(doc, "outputs").pop(name, None)
    doc.touch()


# variants -------------------------------------------------------------------------------------
def add_variant(doc: FlowDocument, name: str, copy_of: str | None = None) -> str:
    """A new variant of node ``name``, a copy of ``copy_of`` (default: the default variant) whose prompt
    file is copied too, so it can be edited alone. A node without variants first becomes ``variant_0``.
    Returns the new variant id."""
    node = node_map(doc, name)
    if not node.get("use_variants"):
        inner = _map([(k, v) for k, v in node.items() if k != "name"])
        for key in list(node.keys()):
            if key != "name":
                del node[key]
        node["use_variants"] = True
        section = _section(doc, "node_variants")
        section[name] = _map([("default_variant_id", "variant_0"),
                              ("variants", _map([("variant_0", _map([("node", inner)]))]))])
    entry = variants_of(doc, name)
    variants = entry["variants"]
    new_id = next(f"variant_{k}" for k in range(len(variants) + 1) if f"variant_{k}" not in variants)
    inner = copy.deepcopy(body(doc, name, copy_of))
    source = inner.get("source") if isinstance(inner.get("source"), dict) else None
    path = str(source.get("path") or "") if source else ""
    if path and inner.get("type") in ("llm", "prompt") and doc.source_exists(path):
        stem, dot, suffix = path.rpartition(".")
        new_path = f"{stem}_{new_id}.{suffix}" if dot else f"{path}_{new_id}"
        doc.set_source_text(new_path, doc.source_text(path))
        _set(source, "path", new_path)
    variants[new_id] = _map([("node", inner)])
    doc.touch()
    return new_id


def set_default_variant(doc: FlowDocument, name: str, variant: str) -> None:
    body(doc, name, variant)  # exists
    _set(variants_of(doc, name), "default_variant_id", variant)
    doc.touch()


def remove_variant(doc: FlowDocument, name: str, variant: str) -> None:
    """Remove a variant (not the default one)."""
    entry = variants_of(doc, name)
    if entry is None or variant not in (entry.get("variants") or {}):
        raise UserError(f"Node '{name}' has no variant '{variant}'.", file=str(doc.file), node=name)
    if entry.get("default_variant_id") == variant:
        raise UserError(f"Variant '{variant}' is the default of node '{name}'.", file=str(doc.file), node=name,
                        hint="make another variant the default first.")
    del entry["variants"][variant]
    doc.touch()


def set_variant_description(doc: FlowDocument, name: str, variant: str, description: str | None) -> None:
    body(doc, name, variant)
    _set(variants_of(doc, name)["variants"][variant], "description", description or None)
    doc.touch()
