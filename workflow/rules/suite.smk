# A suite: each member is this workflow as a Snakemake module with its own config (the suite's
# base config plus the member's overrides) and its own experiment name; its rules are prefixed
# with the member's name (vit_report_tables, cnn_train_router, ...). Members that ask for the
# same dataset share its folder: the first member's download rule builds it.
import json
import shlex

from neulig.config import exit_on_config_error
from neulig.plan import Plan
from neulig.suite import check_suite, clip_members, member_configs, replicates

exit_on_config_error(check_suite, config, NEULIG_DIR)
MEMBERS = exit_on_config_error(member_configs, config["suite"], NEULIG_DIR)
SUITE = Plan(config)  # the suite's own reports, logs and benchmarks
PLANS = {m: Plan(c) for m, c in MEMBERS.items()}
# The members the suite's tables compare: the CLIP pipeline's (not MuDSC's miniature)
COMPARED = [PLANS[m] for m in clip_members(MEMBERS)]


for member, member_config in MEMBERS.items():
    # A variable module name: `use rule` resolves it (and the prefix) from this loop variable.
    prefix = f"{member}_"

    module:
        name: prefix
        snakefile:
            "../../Snakefile"
        config:
            member_config

    use rule * from prefix as prefix*


workflow.ruleorder(*[f"{m}_download_dataset" for m in clip_members(MEMBERS)])


rule suite_report:
    input:
        reports=[p.reports("accuracy.md") for p in COMPARED],
        accuracies=[p.reports("accuracy.csv") for p in COMPARED],
        levels=[p.reports("levels.csv") for p in COMPARED],
        gaps=[p.reports("neulig_gap.csv") for p in COMPARED],
    output:
        table1=report(
            SUITE.reports("table1.csv"),
            caption="../report/table1.rst",
            category="Table 1",
        ),
        seeds=report(
            SUITE.reports("seeds.csv"),
            caption="../report/seeds.rst",
            category="Seeds",
        ),
        md=SUITE.reports("summary.md"),
    log:
        SUITE.log("suite_report"),
    benchmark:
        SUITE.benchmark("suite_report")
    conda:
        "../../envs/neulig.yaml"
    params:
        members=lambda w: " ".join(clip_members(MEMBERS)),
        args=shlex.quote(
            json.dumps(
                {
                    "table1": config["suite"]["table1"],
                    "replicates": replicates(config["suite"]),
                    "predicts": {
                        m: MEMBERS[m]["report"]["predicts"]
                        for m in replicates(config["suite"])
                    },
                }
            )
        ),
        title=shlex.quote(config["report"]["title"]),
    shell:
        "neulig suite-report --members {params.members} --reports {input.reports}"
        " --accuracies {input.accuracies} --levels {input.levels} --gaps {input.gaps} --params {params.args} --title {params.title}"
        " --out-table1 {output.table1} --out-seeds {output.seeds} --out {output.md} > {log} 2>&1"


onsuccess:
    # Record every member's outputs and the suite's report in DVC (as a single experiment does).
    tracked = [PLANS[m] for m, c in MEMBERS.items() if c["dvc"]["track"]]
    if tracked and os.path.isdir(".dvc"):
        paths = ["data", SUITE.reports()]
        paths += [path for p in tracked for path in (p.results(), p.reports())]
        shell("dvc add --quiet " + " ".join(p for p in paths if os.path.isdir(p)))
