"""User settings (``pfl config set trace.max_age_days=30``), kept in ``PFL_HOME/config.json``; an
environment variable overrides each one.

Only the keys of ``SETTINGS`` exist; each has a type, an environment variable and a help text. A
key that is not set (and whose variable is empty) has no value: every setting is off by default.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from promptflow_lite.errors import UserError


def _positive_number(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError("not a positive number")
    return value


@dataclass(frozen=True)
class Setting:
    key: str
    env: str
    parse: Callable[[str], Any]
    help: str


SETTINGS = {s.key: s for s in (
    Setting("trace.max_size_mb", "PFL_TRACE_MAX_SIZE_MB", _positive_number,
            "prune the oldest traces when the trace store holds more than this many MB"),
    Setting("trace.max_age_days", "PFL_TRACE_MAX_AGE_DAYS", _positive_number,
            "prune traces started more than this many days ago"),
)}


def config_path() -> Path:
    from promptflow_lite.home import pfl_home

    return pfl_home() / "config.json"


def get_setting(key: str) -> Any:
    """The value of ``key``: its environment variable if set, else the config file's, else None."""
    setting = _setting(key)
    text = os.environ.get(setting.env, "").strip()
    if text:
        return _parse(setting, text, f"environment variable {setting.env}")
    stored = _read().get(key)
    return None if stored is None else _parse(setting, str(stored), str(config_path()))


def set_settings(values: dict[str, str]) -> dict[str, Any]:
    """Store ``values`` (text, as typed); an empty value removes the key. Returns the file's settings."""
    current = _read()
    for key, text in values.items():
        setting = _setting(key)
        if text.strip() == "":
            current.pop(key, None)
        else:
            current[key] = _parse(setting, text.strip(), f"pfl config set {key}=...")
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    temporary.replace(path)
    return current


def effective_settings() -> list[dict[str, Any]]:
    """Every setting with its value and where the value comes from (``env``, ``config`` or ``default``)."""
    stored = _read()
    rows = []
    for setting in SETTINGS.values():
        source = ("env" if os.environ.get(setting.env, "").strip()
                  else "config" if stored.get(setting.key) is not None else "default")
        rows.append({"key": setting.key, "value": get_setting(setting.key), "source": source, "env": setting.env,
                     "help": setting.help})
    return rows


def _setting(key: str) -> Setting:
    try:
        return SETTINGS[key]
    except KeyError:
        raise UserError(f"Unknown setting '{key}'.", hint=f"settings: {', '.join(SETTINGS)}.") from None


def _parse(setting: Setting, text: str, where: str) -> Any:
    try:
        return setting.parse(text)
    except ValueError:
        raise UserError(f"{setting.key} = '{text}' (from {where}) is not valid: {setting.help} - a positive number.",
                        hint=f"e.g. pfl config set {setting.key}=30, or clear it: pfl config set {setting.key}=") \
            from None


def _read() -> dict[str, Any]:
    path = config_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise UserError(f"Cannot read the settings file {path}: {exc}.",
                        hint="fix or delete it, then set the values again with `pfl config set`.") from None
    return data if isinstance(data, dict) else {}
