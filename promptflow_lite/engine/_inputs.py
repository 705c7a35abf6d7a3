"""Flow inputs of one line: defaults, then type conversion, images read (FLOW_FORMAT §1.3, §2.8)."""

from __future__ import annotations

from typing import Any

from promptflow_lite.errors import InputError
from promptflow_lite.tools._coercion import ConversionError, UnusableValue, check_value, parse_value
from promptflow_lite.tools._multimedia import Multimedia

_WITH_IMAGES = ("image", "list", "object")  # the input types whose values may hold images


def resolve_inputs(spec: "FlowSpec", given: dict[str, Any], *, line_number: int | None = None,
                   chat_mode: bool = False, media: Multimedia | None = None) -> dict[str, Any]:
    """The line's flow inputs: defaults applied where absent, values converted to their types.

    Keys that are not flow inputs are dropped. A missing input without default (or a value of the
    wrong type, an image that cannot be read) raises ``InputError`` naming the input and the line.
    ``media`` reads the images of ``image`` inputs and those nested in ``list``/``object`` inputs.
    """
    where = f" in line {line_number} of the input data" if line_number is not None else ""
    resolved: dict[str, Any] = {}
    for name, definition in spec.inputs.items():
        if name in given:
            value = given[name]
        elif definition.has_default:
            value = definition.default
        elif chat_mode and name == spec.chat_history_input:
            value = []
        else:
            raise InputError(f"The value for flow input '{name}' is not provided{where}.", line=line_number,
                             hint=f"pass it (e.g. --inputs {name}=...), map a data column to it, or give it a default.")
        resolved[name] = convert_input(name, definition, value, line_number=line_number, media=media)
    return resolved


def convert_input(name: str, definition: "FlowInput", value: Any, *, line_number: int | None = None,
                  media: Multimedia | None = None) -> Any:
    """``value`` converted to the type of flow input ``name``; a mismatch raises ``InputError``."""
    value_type = definition.type.value
    if value_type not in _WITH_IMAGES:
        return typed_input(name, value_type, value, line_number=line_number)
    media = media or Multimedia()
    try:
        if value_type == "image":
            check_value(value)
            return media.create_image(value)
        return media.load(typed_input(name, value_type, value, line_number=line_number))
    except (OSError, ValueError) as exc:
        where = f" in line {line_number} of the input data" if line_number is not None else ""
        raise InputError(f"Failed to load image for input '{name}'{where}: ({type(exc).__name__}) {exc}",
                         line=line_number, hint="image paths are relative to the data file (batch runs) or the "
                                                "flow folder; check the file exists.") from None


def typed_input(name: str, value_type: str, value: Any, *, line_number: int | None = None, convert: bool = True,
                hint: str | None = None) -> Any:
    """``value`` of flow input ``name`` checked to be usable (see ``check_value``) and (with ``convert``)
    converted to ``value_type``; raises ``InputError`` naming the input and the line."""
    where = f" in line {line_number} of the input data" if line_number is not None else ""
    try:
        check_value(value)
        return parse_value(value, value_type) if convert else value
    except UnusableValue as exc:
        raise InputError(f"The value for flow input '{name}'{where} cannot be used: {exc}.", line=line_number,
                         hint="fix the value in the data (or request); save data files as UTF-8.") from None
    except ConversionError as exc:
        raise InputError(f"The value for flow input '{name}'{where} does not match the expected type "
                         f"'{value_type}': {exc}.", line=line_number,
                         hint=hint or f"pass a valid {value_type} or change the input's type.") from None
