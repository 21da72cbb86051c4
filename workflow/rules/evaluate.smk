rule evaluate_model:
    input:
        meta=all_data_meta(),
        model=get_checkpoint,
        heads="results/pretrained/heads.safetensors",
    output:
        features="results/features/{model}.safetensors",
        records="results/eval/{model}.json",
    log:
        "logs/evaluate_model/{model}.log",
    benchmark:
        "benchmarks/rules/evaluate_model/{model}.tsv"
    conda:
        ENV
    threads: 1
    params:
        args=as_arg({"device": config["device"]}),
        data=task_dirs(),
        splits=encode_splits,
        kind=model_kind,
        method=model_method,
    shell:
        "neulig evaluate --params {params.args} --threads {threads} --model {input.model}"
        " --data {params.data} --splits {params.splits} --heads {input.heads}"
        " --name {wildcards.model} --method {params.method} --kind {params.kind}"
        " --out-features {output.features} --out {output.records} > {log} 2>&1"
