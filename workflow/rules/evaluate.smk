rule encode_images:
    input:
        meta=all_data_meta(),
        model=get_checkpoint,
    output:
        features="results/features/{model}.safetensors",
    params:
        args=as_arg({"device": config["device"]}),
        data=task_dirs(),
        splits=encode_splits,
    threads: 1
    log:
        "logs/encode_images/{model}.log",
    benchmark:
        "benchmarks/rules/encode_images/{model}.tsv"
    conda:
        ENV
    shell:
        "neulig encode --params {params.args} --threads {threads} --model {input.model}"
        " --data {params.data} --splits {params.splits} --out {output.features} > {log} 2>&1"


rule evaluate_model:
    input:
        features="results/features/{model}.safetensors",
        heads="results/pretrained/heads.safetensors",
    output:
        records="results/eval/{model}.json",
    params:
        kind=model_kind,
        method=model_method,
    threads: 1
    log:
        "logs/evaluate_model/{model}.log",
    benchmark:
        "benchmarks/rules/evaluate_model/{model}.tsv"
    conda:
        ENV
    shell:
        "neulig evaluate --features {input.features} --heads {input.heads} --name {wildcards.model}"
        " --method {params.method} --kind {params.kind} --out {output.records} > {log} 2>&1"
