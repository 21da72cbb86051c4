"""The report's sections: declared once, each with its captions and writer; a run declares and
writes the files of the sections its config asks for, and no others."""

from __future__ import annotations

import importlib
import re

import yaml

from neulig.report_sections import SECTIONS, report_files, report_sections

from .workflow_helpers import ROOT, TEST_CONFIG, job_counts, snakemake, unrequested_outputs


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


def test_mudscs_miniature_is_an_experiment_of_its_own_with_its_section_declared(tmp_path):
    """config/mudsc.yaml plans MuDSC's runs and its report section's files, nothing of the
    CLIP pipeline; config/full.yaml keeps it as a member."""
    profile = ROOT / "config" / "mudsc.yaml"
    config = yaml.safe_load(profile.read_text())
    assert [s.name for s in report_sections(config)] == ["mudsc"]
    out = snakemake("-n", "--cores", "1", "--configfile", str(profile), cwd=tmp_path).stdout
    pairs = len(config["mudsc_miniature"]["sources"]) * config["mudsc_miniature"]["pairs"]
    assert job_counts(out) == {
        "mudsc_miniature": pairs,
        "report_mudsc": 1,
        "dvc_declarations": 1,
        "all": 1,
        "total": pairs + 3,
    }
    declared = {f"reports/mudsc/{f.path}" for f in report_files(config)}
    assert declared == {"reports/mudsc/mudsc.md", "reports/mudsc/mudsc.csv",
                        "reports/mudsc/metrics.json", "reports/mudsc/mudsc_lambda.png",
                        "reports/mudsc/mudsc_landscape.png"}  # fmt: skip
    outputs = re.search(r"rule report_mudsc:.*?\n\s+output: ([^\n]*)", out, re.DOTALL)[1]
    assert set(outputs.split(", ")) == declared
    assert unrequested_outputs(out) == []
    assert yaml.safe_load((ROOT / "config" / "full.yaml").read_text())["suite"]["members"][
        "mudsc"
    ] == {"base": "config/mudsc.yaml", "experiment": "full-mudsc"}
