rule ensemble_experts:
    input:
        features=[P.features(f"expert_{t}") for t in P.tasks],
        heads=P.heads,
    output:
        records=P.results("ensemble", "{method}.json"),
    log:
        P.log("ensemble_experts", "{method}"),
    benchmark:
        P.benchmark("ensemble_experts", "{method}")
    conda:
        ENV
    threads: 1
    shell:
        "neulig ensemble --method {wildcards.method} --threads {threads}"
        " --features {input.features} --heads {input.heads} --out {output.records} > {log} 2>&1"


rule merge_counterpart:
    input:
        unpack(get_counterpart_inputs),
    output:
        records=P.results("levels", "{method}.json"),
    log:
        P.log("merge_counterpart", "{method}"),
    benchmark:
        P.benchmark("merge_counterpart", "{method}")
    conda:
        ENV
    threads: 1
    params:
        args=as_arg(
            {**plugin_params(), "seed": config["seed"], "device": config["device"]}
        ),
        per_input=per_input_args,
    shell:
        "neulig counterpart --method {wildcards.method} --params {params.args}"
        " --threads {threads} --info {input.info} --heads {input.heads}"
        " --pretrained-features {input.pretrained_features} --features {input.features}"
        " {params.per_input} --out {output.records} > {log} 2>&1"
