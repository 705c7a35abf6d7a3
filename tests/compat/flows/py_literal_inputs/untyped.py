from promptflow.core import tool


def _show(value):
    # literal YAML strings may arrive as str subclasses; report the base type
    kind = next(t for t in (bool, int, float, str, list, dict, object) if isinstance(value, t))
    return {"type": kind.__name__, "value": value}


@tool
def untyped(number_string, json_list_string, plain_string, real_int, real_list, default_typed_int=0, **kwargs) -> dict:
    shown = {
        "number_string": _show(number_string),
        "json_list_string": _show(json_list_string),
        "plain_string": _show(plain_string),
        "real_int": _show(real_int),
        "real_list": _show(real_list),
        "default_typed_int": _show(default_typed_int),
    }
    shown["kwargs"] = {k: _show(v) for k, v in sorted(kwargs.items())}
    return shown
