rule report_tables:
    input:
        records=P.record_files(),
        compared=P.compared_record_files(),
        betas=P.betas_files(),
        merge_info=P.merge_info_files(),
        features=[P.features(model_name("expert", t)) for t in P.tasks],
        heads=P.heads,
    output:
        **report_outputs(),
    log:
        P.log("report_tables", "report_tables"),
    benchmark:
        P.benchmark("report_tables", "report_tables")
    conda:
        ENV
    params:
        args=as_arg(
            {
                **config["report"],
                **plugin_params(),
                "sections": [s.name for s in SECTIONS],
            }
        ),
        out=lambda w, output: os.path.dirname(output.md),
    shell:
        "neulig report --params {params.args} --records {input.records}"
        " --compared-records {input.compared}"
        " --betas {input.betas} --merge-info {input.merge_info}"
        " --expert-features {input.features} --heads {input.heads} --out-dir {params.out}"
        " > {log} 2>&1"
