"""docs/results.md's numbers are written from the runs' files, not copied by hand: the
generator fills each block from its file (or one section of it), with the command and a link,
and leaves prose and blocks whose file is missing alone."""

from __future__ import annotations

import re

from neulig.report_sections import SECTIONS
from neulig.reporting.results_doc import BLOCK, main

from .workflow_helpers import ROOT

ACCURACY = """# Results

Test accuracy (%) per task; one row per method.

| method   |   digits |
|:---------|---------:|
| TIES     |    21.50 |

## Merging vs ensembling, every method (the paper's Table 2)

| method   |   Mer. |   Ens. |
|:---------|-------:|-------:|
| Averaging|  32.08 |  49.45 |

## Alignment (MuDSC) before weight averaging

| experiment | Average |
"""

DOC = """# Measured results

Prose written by hand stays.

<!-- results: reports/x/accuracy.md | make run -->
old main table
<!-- /results -->

<!-- results: reports/x/accuracy.md#Merging vs ensembling | snakemake --cores 2 -->
old levels
<!-- /results -->

<!-- results: reports/never/summary.md | snakemake --configfile config/seeds.yaml -->
kept: not generated here
<!-- /results -->
"""


def test_blocks_are_written_from_the_generated_files(tmp_path, capsys):
    (tmp_path / "reports" / "x").mkdir(parents=True)
    (tmp_path / "reports" / "x" / "accuracy.md").write_text(ACCURACY)
    doc = tmp_path / "docs" / "results.md"
    doc.parent.mkdir()
    doc.write_text(DOC)
    assert main([str(doc), "--root", str(tmp_path)]) == 0
    text = doc.read_text()
    assert "Prose written by hand stays." in text and "old" not in text
    main_block, levels, missing = [m["body"] for m in BLOCK.finditer(text)]
    assert "| TIES     |    21.50 |" in main_block and "# Results" not in main_block
    assert (
        "*Measured by `make run`; written to [reports/x/accuracy.md](../reports/x/accuracy.md)"
        in main_block
    )
    assert "| Averaging|  32.08 |  49.45 |" in levels and "Alignment" not in levels
    assert "`snakemake --cores 2`" in levels and "(the paper's Table 2)" in levels
    assert missing == "kept: not generated here\n"
    assert "reports/never/summary.md not generated here" in capsys.readouterr().out
    assert main([str(doc), "--root", str(tmp_path)]) == 0
    assert doc.read_text() == text  # the same files give the same page
    assert main([str(doc), "--root", str(tmp_path), "--strict"]) == 1


def test_the_results_page_is_made_of_blocks_of_generated_files():
    """Every block of docs/results.md names a file that a report writes."""
    text = (ROOT / "docs" / "results.md").read_text()
    declared = {f.path for s in SECTIONS for f in s.files} | {"summary.md", "seeds.csv"}
    blocks = list(BLOCK.finditer(text))
    assert len(blocks) >= 8
    for block in blocks:
        assert re.fullmatch(r"reports/[\w.-]+/(.+)", block["path"].strip())[1] in declared
