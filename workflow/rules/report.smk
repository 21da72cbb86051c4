rule report_tables:
    input:
        records=get_records(),
    output:
        csv=report(
            "reports/accuracy.csv", caption="../report/accuracy.rst", category="Tables"
        ),
        md="reports/accuracy.md",
        by_task=report(
            "reports/accuracy_by_task.png",
            caption="../report/accuracy_by_task.rst",
            category="Figures",
        ),
        summary=report(
            "reports/merge_vs_ensemble.png",
            caption="../report/merge_vs_ensemble.rst",
            category="Figures",
        ),
        neulig_gap=report(
            "reports/neulig_gap.csv",
            caption="../report/neulig_gap.rst",
            category="NeuLig",
        ),
        neulig_counts=report(
            "reports/neulig_model_counts.png",
            caption="../report/neulig_model_counts.rst",
            category="NeuLig",
        ),
        neulig_gap_plot=report(
            "reports/neulig_gap.png",
            caption="../report/neulig_gap_plot.rst",
            category="NeuLig",
        ),
        neulig_beta=report(
            "reports/neulig_beta.png",
            caption="../report/neulig_beta.rst",
            category="NeuLig",
        ),
        alignment=report(
            "reports/alignment.csv",
            caption="../report/alignment.rst",
            category="Alignment",
        ),
        alignment_lambda=report(
            "reports/alignment_lambda.png",
            caption="../report/alignment_lambda.rst",
            category="Alignment",
        ),
    log:
        "logs/report_tables.log",
    benchmark:
        "benchmarks/rules/report_tables.tsv"
    conda:
        ENV
    params:
        args=as_arg(config.get("report", {})),
        out=lambda w, output: os.path.dirname(output.csv),
    shell:
        "neulig report --params {params.args} --records {input.records} --out-dir {params.out}"
        " > {log} 2>&1"
