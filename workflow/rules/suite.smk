# A suite: each member is this workflow as a Snakemake module with its own config (the suite's
# base config plus the member's overrides) and its own experiment name; its rules are prefixed
# with the member's name (vit_report_tables, cnn_train_router, ...). Members that ask for the
# same dataset share its folder: the first member's download rule builds it.
import json
import shlex

from neulig.config import exit_on_config_error
from neulig.suite import check_suite, member_configs, replicates

exit_on_config_error(check_suite, config, NEULIG_DIR)
MEMBERS = exit_on_config_error(member_configs, config["suite"], NEULIG_DIR)
SUITE = config["experiment"]


REPORTS = {m: f"reports/{c['experiment']}" for m, c in MEMBERS.items()}


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


workflow.ruleorder(*[f"{m}_download_dataset" for m in MEMBERS])


rule suite_report:
    input:
        reports=[f"{REPORTS[m]}/accuracy.md" for m in MEMBERS],
        accuracies=[f"{REPORTS[m]}/accuracy.csv" for m in MEMBERS],
        levels=[f"{REPORTS[m]}/levels.csv" for m in MEMBERS],
        gaps=[f"{REPORTS[m]}/neulig_gap.csv" for m in MEMBERS],
    output:
        table1=report(
            f"reports/{SUITE}/table1.csv",
            caption="../report/table1.rst",
            category="Table 1",
        ),
        seeds=report(
            f"reports/{SUITE}/seeds.csv",
            caption="../report/seeds.rst",
            category="Seeds",
        ),
        md=f"reports/{SUITE}/summary.md",
    log:
        f"logs/{SUITE}/suite_report.log",
    benchmark:
        f"benchmarks/rules/{SUITE}/suite_report.tsv"
    conda:
        "../../envs/neulig.yaml"
    params:
        members=lambda w: " ".join(MEMBERS),
        args=shlex.quote(
            json.dumps(
                {
                    "table1": config["suite"]["table1"],
                    "replicates": replicates(config["suite"]),
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
    tracked = [c for c in MEMBERS.values() if c["dvc"]["track"]]
    if tracked and os.path.isdir(".dvc"):
        paths = ["data", f"reports/{SUITE}"]
        paths += [
            f"{d}/{c['experiment']}"
            for c in tracked
            for d in ("results", "reports")
        ]
        shell("dvc add --quiet " + " ".join(p for p in paths if os.path.isdir(p)))
