"""Options tables (TOML tables, ``--option k=v``) checked against a dataclass.

Every plug-in declares its options as a frozen dataclass (as ir_measures declares a
measure's parameters); an unknown key is a one-line error that names it and the known
ones, and scalar types are checked, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any

from .errors import ConfigError


@dataclass(frozen=True)
class NoOptions:
    """For plug-ins without options of their own."""


_SCALARS: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,)}


def check_type(annotation: Any, value: Any, where: str) -> None:
    """Check a scalar against its annotation (``int``, ``str | None`` ...)."""
    parts = [p.strip() for p in str(annotation).split("|")]
    if value is None:
        if "None" not in parts:
            raise ConfigError(f"{where}: a value is required")
        return
    base = parts[0]
    if base in _SCALARS:
        wrong_bool = isinstance(value, bool) and base != "bool"
        if wrong_bool or not isinstance(value, _SCALARS[base]):
            raise ConfigError(f"{where}: expected {base}, got {value!r}")


def build_options(cls: type, data: dict[str, Any] | None, where: str) -> Any:
    """An instance of the options dataclass ``cls`` from a plain table."""
    data = dict(data or {})
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table, got {type(data).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        names = ", ".join(known) or "none"
        raise ConfigError(f"{where}: unknown option {unknown[0]!r}; known options: {names}")
    for key, value in data.items():
        check_type(known[key].type, value, f"{where}.{key}")
    try:
        return cls(**data)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def parse_value(text: str) -> Any:
    """``--option k=v`` values: TOML scalars (``3``, ``0.5``, ``true``, ``"x"``), else the raw string."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
    import datetime

    return text if isinstance(value, (datetime.date, datetime.time)) else value  # revision=2025-06-01 stays the text typed


def as_dict(options: Any) -> dict[str, Any]:
    """An options instance as a plain dict (part of a stage's key)."""
    return dataclasses.asdict(options) if dataclasses.is_dataclass(options) and not isinstance(options, type) else {}
