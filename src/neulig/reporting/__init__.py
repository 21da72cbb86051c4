"""The report: tables, figures and DVC metrics from every records file and diagnostic.

One module per section under :mod:`neulig.reporting.sections`, declared in
:mod:`neulig.report_sections`; each section's ``write_section(inputs, out)`` writes its files
and returns its Markdown.
"""

from __future__ import annotations

import importlib
import logging
import os
from pathlib import Path

from neulig.reporting import tables
from neulig.reporting.inputs import ReportInputs

log = logging.getLogger(__name__)


def write_report(inputs: ReportInputs, sections: list[str], out_dir: str | os.PathLike) -> None:
    """Run the ``sections`` the config asks for, in order, and join their Markdown."""
    out = Path(out_dir)
    text = ""
    for name in sections:
        text += importlib.import_module(f"neulig.reporting.sections.{name}").write_section(
            inputs, out
        )
    tables.write_text(out / "accuracy.md", f"# {inputs.params.get('title', 'Results')}\n\n{text}")
    log.info("report written to %s", out)
