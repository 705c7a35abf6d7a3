"""Flow inputs of one line: defaults, then type conversion (FLOW_FORMAT §1.3)."""

from __future__ import annotations

from typing import Any

from promptflow_lite.errors import InputError
from promptflow_lite.tools._coercion import ConversionError, UnusableValue, check_value, parse_value


def resolve_inputs(spec: "FlowSpec", given: dict[str, Any], *, line_number: int | None = None,
                   chat_mode: bool = False) -> dict[str, Any]:
    """The line's flow inputs: defaults applied where absent, values converted to their types.

    Keys that are not flow inputs are dropped. A missing input without default (or a value of the
    wrong type) raises ``InputError`` naming the input and the line.
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
        resolved[name] = convert_input(name, definition, value, line_number=line_number)
    return resolved


def convert_input(name: str, definition: "FlowInput", value: Any, *, line_number: int | None = None) -> Any:
    """``value`` converted to the type of flow input ``name``; a mismatch raises ``InputError``."""
    return typed_input(name, definition.type.value, value, line_number=line_number)


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
