rule train_router:
    input:
        meta=get_combo_meta,
        experts=get_combo_experts,
        features=get_combo_features,
        heads="results/pretrained/heads.safetensors",
    output:
        router="results/neulig/{combo}/router.safetensors",
        info="results/neulig/{combo}/router.json",
        records="results/neulig/{combo}/records.json",
    log:
        "logs/train_router/{combo}.log",
    benchmark:
        "benchmarks/rules/train_router/{combo}.tsv"
    conda:
        ENV
    threads: 1
    params:
        args=as_arg(neulig_params()),
        data=lambda w, input: [os.path.dirname(m) for m in input.meta],
    shell:
        "neulig route --combo {wildcards.combo} --params {params.args} --threads {threads}"
        " --experts {input.experts} --features {input.features} --heads {input.heads}"
        " --data {params.data} --out-router {output.router} --out {output.records} > {log} 2>&1"
