"""Report options: what a report contains, chosen as data (``[report]`` in an experiment, ``bench report --option``).

Report content used to be switched by an environment variable (``BENCH_EXPLORER_SNIPPETS=0``),
which a results record could not state and a reader could not see. The options live in the
record's config and on the command line; the variable is kept as a deprecated alias.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportOptions:
    """``snippets``: passage text in the explorer's drill-down.

    None (the default) shows it unless the collection's family says its text must not be
    redistributed (MS MARCO's DL and dev sets: ``bench.evaluate.Family.redistributable``), so a
    committed report never carries it by accident; true or false decides for every collection.
    """

    snippets: bool | None = None


def report_options(table: dict[str, Any] | None = None, where: str = "report") -> ReportOptions:
    """Checked options from a table (an unknown key is one line naming the known ones), plus the deprecated variable."""
    from ..options import build_options

    options: ReportOptions = build_options(ReportOptions, table or {}, where)
    if os.environ.get("BENCH_EXPLORER_SNIPPETS") == "0" and options.snippets is not False:
        log.warning("BENCH_EXPLORER_SNIPPETS=0 is deprecated; use the report option snippets = false "
                    "([report] in the experiment file, or bench report --option snippets=false)")
        options = dataclasses.replace(options, snippets=False)
    return options


def snippets_for(options: ReportOptions | None, record: dict[str, Any]) -> tuple[bool, str | None]:
    """Whether a record's explorer shows passage text, and the note when it does not."""
    from ..evaluate import TYPES

    chosen = options.snippets if options is not None else None
    if chosen is False:
        return False, "passage text left out (report option snippets = false): the drill-down shows ids and labels."
    family = TYPES.get(str((record.get("collection") or {}).get("family") or "default"))
    if chosen is None and family is not None and not family.redistributable:
        return False, (f"passage text left out: the {family.name} collections' terms do not allow redistributing it "
                       "(set the report option snippets = true for a report you keep to yourself).")
    return True, None


def from_records(records: list[dict[str, Any]], overrides: dict[str, Any] | None = None) -> ReportOptions:
    """The first record's ``[report]`` table with ``overrides`` (the command line's) on top."""
    table: dict[str, Any] = {}
    for record in records[:1]:
        table.update(((record.get("config") or {}).get("report")) or {})
    table.update(overrides or {})
    return report_options(table)
