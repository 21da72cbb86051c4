"""The report's sections: declared once, each with its captions and writer; a run declares and
writes the files of the sections its config asks for, and no others."""

from __future__ import annotations

import importlib

import yaml

from neulig.report_sections import SECTIONS, report_sections

from .workflow_helpers import ROOT, TEST_CONFIG


def test_every_section_has_a_writer_and_every_caption_a_file():
    for section in SECTIONS:
        module = importlib.import_module(f"neulig.reporting.sections.{section.name}")
        assert callable(module.write_section), section.name
        for file in section.files:
            if file.caption:
                assert (ROOT / "workflow" / "report" / f"{file.caption}.rst").exists(), file


def test_a_config_gets_only_the_sections_it_asks_for():
    config = yaml.safe_load(TEST_CONFIG.read_text())
    names = [s.name for s in report_sections(config)]
    assert names == [
        "accuracy",
        "levels",
        "pairs",
        "neulig",
        "confidence",
        "selection",
        "alignment",
    ]
    config["report"] = {"predicts": ["table2b"]}  # the schema's default, filled in a run
    assert "fidelity" in [s.name for s in report_sections(config)]
    config["pairs"] = {"methods": []}
    config["neulig"]["min_models"] = 3  # no two-expert routers: nothing for Figure 3
    config["alignment"]["lam_grid"] = []
    wanted = {f.path for s in report_sections(config) for f in s.files_for(config)}
    assert "pairs" not in [s.name for s in report_sections(config)]
    assert "alignment.csv" in wanted and "alignment_lambda.png" not in wanted
    del config["alignment"]
    assert "alignment" not in [s.name for s in report_sections(config)]
