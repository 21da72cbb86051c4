rule report_tables:
    input:
        records=P.record_files(),
        compared=P.compared_record_files(),
        betas=P.betas_files(),
        merge_info=P.merge_info_files(),
    output:
        csv=report(
            P.reports("accuracy.csv"),
            caption="../report/accuracy.rst",
            category="Tables",
        ),
        md=P.reports("accuracy.md"),
        levels=report(
            P.reports("levels.csv"),
            caption="../report/levels.rst",
            category="Tables",
        ),
        metrics=P.reports("metrics.json"),
        plot_data=multiext(
            P.reports("plots/"), "average_accuracy.csv", "neulig_gap.csv"
        ),
        by_task=report(
            P.reports("accuracy_by_task.png"),
            caption="../report/accuracy_by_task.rst",
            category="Figures",
        ),
        summary=report(
            P.reports("merge_vs_ensemble.png"),
            caption="../report/merge_vs_ensemble.rst",
            category="Figures",
        ),
        neulig_gap=report(
            P.reports("neulig_gap.csv"),
            caption="../report/neulig_gap.rst",
            category="NeuLig",
        ),
        neulig_counts=report(
            P.reports("neulig_model_counts.png"),
            caption="../report/neulig_model_counts.rst",
            category="NeuLig",
        ),
        neulig_gap_plot=report(
            P.reports("neulig_gap.png"),
            caption="../report/neulig_gap_plot.rst",
            category="NeuLig",
        ),
        neulig_beta=report(
            P.reports("neulig_beta.png"),
            caption="../report/neulig_beta.rst",
            category="NeuLig",
        ),
        pairs_table=report(
            P.reports("pairs.csv"),
            caption="../report/pairs.rst",
            category="Figure 3",
        ),
        pairs_figure=report(
            P.reports("pairs.png"),
            caption="../report/pairs.rst",
            category="Figure 3",
        ),
        alignment=report(
            P.reports("alignment.csv"),
            caption="../report/alignment.rst",
            category="Alignment",
        ),
        alignment_lambda=report(
            P.reports("alignment_lambda.png"),
            caption="../report/alignment_lambda.rst",
            category="Alignment",
        ),
    log:
        P.log("report_tables", "report_tables"),
    benchmark:
        P.benchmark("report_tables", "report_tables")
    conda:
        ENV
    params:
        args=as_arg({**config["report"], **plugin_params()}),
        out=lambda w, output: os.path.dirname(output.csv),
    shell:
        "neulig report --params {params.args} --records {input.records}"
        " --compared-records {input.compared}"
        " --betas {input.betas} --merge-info {input.merge_info} --out-dir {params.out}"
        " > {log} 2>&1"
