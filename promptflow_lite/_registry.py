"""Named extension points: a dict of what promptflow_lite ships, plus what installed packages offer
through an entry-point group (``importlib.metadata``), so a backend or a third-party package plugs in
without editing the core. Engines (``promptflow_lite.engines``) and evaluators
(``promptflow_lite.evaluators``) are registries. A shipped entry may itself be an ``EntryPoint``
(``"package.module:attribute"``): it is imported only when asked for, like an installed one.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any, Callable, Generic, TypeVar

from promptflow_lite.errors import UserError

T = TypeVar("T")


class Registry(Generic[T]):
    """``name -> T``: registered entries first, then the entry points of ``group`` (loaded on first use)."""

    def __init__(self, what: str, group: str, builtins: Callable[[], dict[str, T]] | None = None,
                 convert: Callable[[Any], T] | None = None):
        self.what, self.group = what, group
        self._builtins, self._convert = builtins, convert
        self._registered: dict[str, T] = {}

    def register(self, name: str, entry: T) -> None:
        """Make ``entry`` available as ``name`` in this process (it wins over an installed one)."""
        self._registered[name] = entry

    def get(self, name: str) -> T:
        """The entry named ``name``; an unknown name is an error listing the known ones."""
        found = self._registered.get(name)
        if found is None:
            found = self._known_builtins().get(name)
            if isinstance(found, metadata.EntryPoint):
                found = self._loaded(found)
        if found is None:
            entry_point = next((ep for ep in self._entry_points() if ep.name == name), None)
            if entry_point is not None:
                found = self._loaded(entry_point)
        if found is None:
            raise UserError(f"Unknown {self.what} '{name}'.",
                            hint=f"use one of {', '.join(self.names()) or 'none'}, or install a package that "
                                 f"registers it in the entry-point group '{self.group}'.")
        return found

    def names(self) -> list[str]:
        """Every name known: registered, shipped and installed."""
        return sorted(set(self._registered) | set(self._known_builtins()) | {ep.name for ep in self._entry_points()})

    def _known_builtins(self) -> dict[str, T]:
        return self._builtins() if self._builtins is not None else {}

    def _entry_points(self) -> list[metadata.EntryPoint]:
        return list(metadata.entry_points(group=self.group))

    def _loaded(self, entry_point: metadata.EntryPoint) -> T:
        try:
            value = entry_point.load()
        except Exception as exc:
            raise UserError(f"The {self.what} '{entry_point.name}' cannot be loaded from '{entry_point.value}' "
                            f"({type(exc).__name__}: {exc}).",
                            hint=f"reinstall the package that registers it in '{self.group}'.") from exc
        return self._convert(value) if self._convert is not None else value
