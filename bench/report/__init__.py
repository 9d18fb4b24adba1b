"""Reports that compare models: tables with significance, latency and figures.

``python -m bench report RESULTS... [--baseline NAME] [--test t|randomization|wilcoxon]``
reads results records (never reruns a model) and writes Markdown, HTML, CSV and LaTeX
plus two figures. From Python::

    from bench.report import build_report, write_report
    report = build_report(["reports/trec-dl-2019/results.json"], test="wilcoxon")
    write_report(report, "out/", "md,html")

Modules: ``sources`` (reading and labelling records), ``compare`` (rows, columns, cells,
comparisons), ``significance`` (paired tests, Holm, win/tie/loss), ``frontier`` (Pareto),
``figures``, ``text`` (legend and captions), ``render_md``/``render_html``/``render_csv``/
``render_tex`` and ``write`` (files); ``explorer``/``explorer_data`` (the per-query explorer in
report.html, fed by ``record_inputs``: run files and collection found again), ``leaderboard``/
``leaderboard_page`` (``bench leaderboard``) and ``per_query`` (``bench.load_per_query``).
Importing this package loads nothing heavy.
"""

from __future__ import annotations

from . import render_md
from .compare import Report, build_report
from .write import FORMATS, parse_formats, report_for_run, write_report

__all__ = ["FORMATS", "Report", "build_report", "parse_formats", "render_md", "report_for_run", "write_report"]
