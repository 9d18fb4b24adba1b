"""Lazy registries: one per kind of plug-in (reranker families, first stages, report formats, engines).

An entry is a name and either a class or a ``"module:Class"`` string imported on first use
(as lm-evaluation-harness registers models), so listing or parsing never imports torch.
Adding a plug-in is one new file plus one :meth:`Registry.add` line; a test or a user's
own package can :meth:`Registry.register` a class without editing bench.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from .errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Names to classes (or ``"module:attr"`` strings resolved on first :meth:`get`)."""

    def __init__(self, what: str, entries: dict[str, str] | None = None):
        self.what = what
        self._entries: dict[str, str | T] = dict(entries or {})

    def add(self, name: str, target: str | T, replace: bool = False) -> None:
        """Register ``target`` under ``name``; an existing name is an error unless ``replace``."""
        if name in self._entries and not replace:
            raise ValueError(f"{self.what} {name!r} is already registered")
        self._entries[name] = target

    def register(self, name: str, replace: bool = False) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def wrap(obj: T) -> T:
            self.add(name, obj, replace)
            return obj

        return wrap

    def remove(self, name: str) -> None:
        self._entries.pop(name, None)

    def get(self, name: str) -> T:
        """The registered object; an unknown name is a one-line error naming the known ones."""
        try:
            target = self._entries[name]
        except KeyError:
            raise ConfigError(f"unknown {self.what} {name!r}; known: {', '.join(self._entries)}") from None
        if isinstance(target, str):
            module, _, attr = target.partition(":")
            obj = getattr(importlib.import_module(module), attr)
            self._entries[name] = obj
            return obj  # type: ignore[no-any-return]
        return target

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def items(self) -> Iterator[tuple[str, Any]]:
        for name in list(self._entries):
            yield name, self.get(name)
