# Multi-level model collaboration: download -> pretrain -> finetune -> merge / ensemble
# -> evaluate -> report. Logic lives in the `neulig` package; rules call its CLI.
from pathlib import Path

from snakemake.utils import min_version
from neulig.config import (
    SCHEMAS,
    check_config,
    exit_on_config_error,
    experiment_kind,
    put_cli_on_path,
)
from neulig.locks import check_data_not_being_built

min_version("9.0")

# This workflow's own files (schemas, the default config) are found beside this Snakefile, not
# through workflow.basedir: when another workflow uses this one as a module (snakedeploy), that
# is the caller's directory. Rules, captions and conda files are already relative to their file.
NEULIG_DIR = Path(str(workflow.current_basedir))

# Rules call the `neulig` CLI (and DVC) installed beside this Snakemake, so
# `.venv/bin/snakemake` works without an activated venv.
put_cli_on_path()


# A --configfile on the command line (e.g. config/paper.yaml) replaces the offline default
# instead of being merged into it; --config key=value still overrides single keys.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


KIND = experiment_kind(config)  # clip, mudsc or suite: which schema and rules apply

if KIND == "suite":

    # A suite (config/full.yaml): every member runs this workflow as a Snakemake module, and
    # the suite's own rules compare them.
    include: "workflow/rules/suite.smk"

    rule suite:
        default_target: True
        input:
            rules.suite_report.output,
            [getattr(rules, f"{member}_all").input for member in MEMBERS],

else:

    # Validates against its kind's schema (workflow/schemas/config.schema.yaml for the CLIP
    # pipeline) and fills in its defaults; a bad key fails here, before any job, in one line
    # that names it.
    exit_on_config_error(
        check_config, config, NEULIG_DIR / "workflow/schemas" / SCHEMAS[KIND]
    )

    if KIND == "mudsc":

        include: "workflow/rules/mudsc_common.smk"

    else:

        include: "workflow/rules/common.smk"
    include: "workflow/rules/shared.smk"
    include: "workflow/rules/dvc.smk"

    onsuccess:
        record_in_dvc()

    if KIND == "mudsc":

        # MuDSC's experiment in miniature (config/mudsc.yaml): its runs and its report.
        include: "workflow/rules/mudsc.smk"

        rule all:
            default_target: True
            input:
                rules.report_mudsc.output,
                rules.dvc_declarations.output,
                mudsc_runs(),

    else:
        # From an empty data/, a second experiment started beside the first would stop on
        # Snakemake's LockException; this names the data and what to do instead.
        if workflow.is_main_process:
            check_data_not_being_built(
                [f for t in P.tasks for f in P.data_files(t)]
            )

        include: "workflow/rules/data.smk"
        include: "workflow/rules/pretrained.smk"
        include: "workflow/rules/finetune.smk"
        include: "workflow/rules/merge.smk"
        include: "workflow/rules/ensemble.smk"
        include: "workflow/rules/neulig.smk"
        include: "workflow/rules/align.smk"
        include: "workflow/rules/evaluate.smk"
        include: "workflow/rules/report.smk"

        rule all:
            default_target: True
            input:
                rules.report_tables.output,
                rules.dvc_declarations.output,
                every_output(),
