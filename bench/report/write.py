"""Writing a report's files: report.{md,html,csv,tex} and the figures as PNG and SVG.

Every file is written atomically; a bad format name fails before anything is written.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from ..errors import ConfigError
from ..registry import Registry
from ..store import atomic_open, write_text
from .compare import Report

log = logging.getLogger(__name__)

# Every renderer has one signature: render(report, figures) -> str, written as report.<name>.
RENDERERS: Registry[Callable[..., str]] = Registry(
    "report format",
    {
        "md": "bench.report.render_md:render",
        "html": "bench.report.render_html:render",
        "csv": "bench.report.render_csv:render",
        "tex": "bench.report.render_tex:render",
    },
)
FORMATS = tuple(RENDERERS.names())  # the default set
ALIASES = {"markdown": "md", "latex": "tex", "htm": "html"}


def parse_formats(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """``"md,html"`` or ``["md", "tex"]`` -> checked format names (default: all four)."""
    if value is None:
        return list(FORMATS)
    items = value.split(",") if isinstance(value, str) else [p for v in value for p in v.split(",")]
    out = []
    for item in (i.strip().lower() for i in items if i.strip()):
        item = ALIASES.get(item, item)
        if item not in RENDERERS:
            raise ConfigError(f"unknown report format {item!r}; use a comma-separated list of {','.join(RENDERERS.names())}")
        if item not in out:
            out.append(item)
    if not out:
        raise ConfigError(f"no report format given; use a comma-separated list of {','.join(FORMATS)}")
    return out


def write_report(report: Report, output_dir: str | os.PathLike[str], formats: str | list[str] | None = None) -> dict[str, Path]:
    """Write the chosen formats and both figures (PNG and SVG) into ``output_dir``; returns {what: path}."""
    from . import figures as figures_mod

    chosen = parse_formats(formats)
    out = Path(output_dir)
    figures = figures_mod.render(report)
    written: dict[str, Path] = {}
    for fig in figures:
        for ext, data in (("png", fig.png), ("svg", fig.svg)):
            path = out / f"{fig.name}.{ext}"
            with atomic_open(path, "wb") as fh:
                fh.write(data)
            written[f"{fig.name}.{ext}"] = path
    for fmt in chosen:
        path = out / f"report.{fmt}"
        write_text(path, RENDERERS.get(fmt)(report, figures))
        written[fmt] = path
    log.info("report: %s", ", ".join(str(p) for p in written.values()))
    return written


def report_for_run(results_path: str | os.PathLike[str]) -> str:
    """After ``bench run``: every format next to results.json, significance against the first stage; returns report.md's text."""
    from .compare import build_report

    path = Path(results_path)
    written = write_report(build_report([path]), path.parent)
    return written["md"].read_text(encoding="utf-8")
