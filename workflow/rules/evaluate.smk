rule evaluate_model:
    input:
        unpack(get_all_data),
        unpack(get_checkpoint),
        heads=P.heads,
    output:
        features=P.results("features", "{model}.safetensors"),
        records=P.results("eval", "{model}.json"),
    log:
        P.log("evaluate_model", "{model}"),
    benchmark:
        P.benchmark("evaluate_model", "{model}")
    conda:
        ENV
    threads: 1
    params:
        args=as_arg({"device": config["device"]}),
        splits=encode_splits,
    shell:
        "neulig evaluate --params {params.args} --threads {threads} --model {input.model}"
        " --data {input.meta} --splits {params.splits} --heads {input.heads}"
        " --name {wildcards.model} --out-features {output.features} --out {output.records}"
        " > {log} 2>&1"
