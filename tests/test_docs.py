"""The documentation stays short, complete and inside the repository: the README's length, one
line per config key in config/README.md, and links that resolve to files of the repository."""

from __future__ import annotations

import re

import pytest
import yaml

from neulig.report_sections import SECTIONS

from .workflow_helpers import ROOT, SCHEMA

DOCS = [
    ROOT / "README.md",
    ROOT / "config" / "README.md",
    ROOT / "benchmarks" / "README.md",
    ROOT / "reports" / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
# Files a run writes under reports/<experiment>/ (DVC-versioned, not in git): what the report
# sections declare, and a suite's report.
GENERATED = {f.path for s in SECTIONS for f in s.files} | {"summary.md", "table1.csv", "seeds.csv"}


def generated(path):
    """Whether ``path`` is a report file a run writes (a link to it resolves after the run)."""
    parts = path.relative_to(ROOT).parts
    return len(parts) >= 3 and parts[0] == "reports" and "/".join(parts[2:]) in GENERATED


def schema_keys(schema: dict, prefix: str = "") -> list[str]:
    """Dotted names of every property of the schema, nested objects included."""
    keys = []
    for name, sub in schema.get("properties", {}).items():
        keys.append(prefix + name)
        if isinstance(sub, dict) and "properties" in sub and "$ref" not in sub:
            keys += schema_keys(sub, f"{prefix}{name}.")
    return keys


def test_readme_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200


@pytest.mark.parametrize(
    "schema", sorted(SCHEMA.parent.glob("*.schema.yaml")), ids=lambda p: p.name
)
def test_config_readme_documents_every_key(schema):
    doc = (ROOT / "config" / "README.md").read_text()
    # documented as `key`, or with its parents as `parent.key` (`merge.<method>.hparams`)
    missing = [
        key
        for key in schema_keys(yaml.safe_load(schema.read_text()))
        if not re.search(rf"`(?:[\w<>]+\.)*{re.escape(key.rsplit('.', 1)[-1])}`", doc)
    ]
    assert not missing, f"config/README.md does not document {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_resolve_inside_the_repository(doc):
    for target in LINK.findall(doc.read_text()):
        if re.match(r"[a-z]+://", target):
            continue
        path = (doc.parent / target).resolve()
        assert path.is_relative_to(ROOT), f"{doc.name} links outside the repository: {target}"
        assert path.exists() or generated(path), f"{doc.name} links a missing file: {target}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_reference_outside_the_repository(doc):
    assert "shared/reference" not in doc.read_text()


def test_catalogue_files():
    catalog = yaml.safe_load((ROOT / ".snakemake-workflow-catalog.yml").read_text())
    usage = catalog["usage"]
    assert {"mandatory-flags", "software-stack-deployment", "report"} <= set(usage)
    assert (ROOT / "workflow" / "Snakefile").exists()
    assert len((ROOT / "workflow" / "report" / "workflow.rst").read_text().splitlines()) > 20
