"""A PyTerrier pipeline named by an import path: what bench stores, hashes and rebuilds instead of the object.

A ``pt.Transformer`` cannot be hashed or re-created from a record, but the function that
builds it can: ``factory = "package.module:function"`` plus its keyword ``args``. That pair,
the installed PyTerrier version and an optional ``revision`` the user bumps when the
pipeline's code changes are a pipeline stage's cache key, and what ``bench reproduce``
calls again. PyTerrier is imported only when a pipeline is built.
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError, ModelError

log = logging.getLogger(__name__)

_PATH = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")
INSTALL = "pip install 'bench[pyterrier]'"


@dataclass(frozen=True)
class PipelineOptions:
    """``[first_stage.options]`` / ``[rerankers.options]`` of ``kind = "pyterrier"``.

    ``factory``: ``"module:function"`` returning a ``pt.Transformer``; ``args``: its keyword
    arguments; ``revision``: your own label for the pipeline's code (bump it to recompute).
    """

    factory: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    revision: str | None = None

    def __post_init__(self) -> None:
        import inspect

        function = resolve(self.factory)  # a typo in the path fails now, before any long work
        if not isinstance(self.args, dict):
            raise ConfigError(f"pyterrier options: args must be a table of the factory's keyword arguments, got {self.args!r}")
        try:
            inspect.signature(function).bind(**self.args)
        except TypeError as exc:
            raise ConfigError(f"pyterrier factory {self.factory!r} cannot take args {sorted(self.args)}: {exc}") from None
        except ValueError:  # no signature to check (a builtin): the call will tell
            pass


def resolve(path: str) -> Callable[..., Any]:
    """The factory function an import path names (one-line errors for a bad path or a missing module)."""
    if not path:
        raise ConfigError('kind "pyterrier" needs options.factory: the import path "module:function" of a function returning a pt.Transformer')
    if not _PATH.match(path):
        raise ConfigError(f"pyterrier factory {path!r} is not an import path; write it as \"package.module:function\"")
    module_name, _, attr = path.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == "pyterrier":
            raise ConfigError(f"pyterrier factory {path!r} needs PyTerrier, which is not installed; {INSTALL}") from None
        raise ConfigError(f"pyterrier factory {path!r}: cannot import {module_name!r} ({exc}); put its folder on PYTHONPATH") from None
    for part in attr.split("."):
        if not hasattr(target, part):
            raise ConfigError(f"pyterrier factory {path!r}: {module_name} has no {attr!r}; check the name after ':'")
        target = getattr(target, part)
    if not callable(target):
        raise ConfigError(f"pyterrier factory {path!r} is not callable; name a function returning a pt.Transformer")
    return target  # type: ignore[no-any-return]


def require() -> Any:
    """The ``pyterrier`` module, or a one-line error saying how to install it."""
    try:
        import pyterrier as pt
    except ModuleNotFoundError:
        raise ConfigError(f"PyTerrier is not installed; {INSTALL}") from None
    return pt


def version() -> str | None:
    """The installed PyTerrier (``pyterrier``, or the older ``python-terrier`` distribution)."""
    from importlib import metadata

    for name in ("pyterrier", "python-terrier"):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def key(options: PipelineOptions) -> dict[str, Any]:
    """What a pipeline stage's output depends on, as far as bench can know it."""
    return {"factory": options.factory, "args": dict(options.args), "revision": options.revision, "pyterrier": version()}


def build(options: PipelineOptions) -> Any:
    """Call the factory; what it returns must be a ``pt.Transformer``."""
    pt = require()
    made = resolve(options.factory)(**options.args)
    if not isinstance(made, pt.Transformer):
        raise ModelError(f"pyterrier factory {options.factory!r} returned {type(made).__name__}, not a pt.Transformer")
    return made


def name_of(factory: str) -> str:
    """A system name from the factory's function name (``mypkg.pipes:bm25_monot5`` -> ``bm25_monot5``)."""
    from ..store import slug

    return slug(factory.rpartition(":")[2].rpartition(".")[2].lower(), "pyterrier")
