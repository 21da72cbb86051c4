# Helpers every kind of experiment uses (the CLIP pipeline of common.smk, MuDSC's miniature of
# mudsc_common.smk, which define its Plan `P` first): the conda environment, config slices as
# arguments, the report's files from its registered sections, DVC's declarations and records.
import json
import shlex

from neulig.report_sections import dvc_declarations, report_sections

ENV = "../../envs/neulig.yaml"
SECTIONS = report_sections(config)


def as_arg(value):
    """A config slice as one shell-quoted JSON argument (also what Snakemake's params trigger sees)."""
    return shlex.quote(json.dumps(value, sort_keys=True))


def report_outputs():
    """The report rule's files: those of the sections the config asks for, with captions."""
    return {f.key: report_output(f) for s in SECTIONS for f in s.files_for(config)}


def report_output(file):
    path = P.reports(file.path)
    if file.caption is None:
        return path
    return report(path, caption=f"../report/{file.caption}.rst", category=file.category)


def dvc_params():
    """The experiment's dvc.yaml: the metrics and plots of its report's sections."""
    return as_arg(dvc_declarations(config, P.reports(), P.dvc_file))


def record_in_dvc():
    """Record what this run produced in DVC, so `git status` shows only the .dvc files (and
    the experiment's dvc.yaml) to commit. Tracks whatever exists: a partial run (a target,
    --until) records its part.
    """
    if not (config["dvc"]["track"] and os.path.isdir(".dvc")):
        return
    present = [p for p in ("data", P.results(), P.reports()) if os.path.isdir(p)]
    if present:
        shell("dvc add --quiet " + " ".join(present))
