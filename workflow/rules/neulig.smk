rule train_router:
    input:
        unpack(get_combo_data),
        unpack(get_combo_models),
        heads=P.results("pretrained", "heads.safetensors"),
    output:
        router=P.results("neulig", "{combo}", "router.safetensors"),
        info=P.results("neulig", "{combo}", "router.json"),
        betas=P.results("neulig", "{combo}", "betas.json"),
        records=P.results("neulig", "{combo}", "records.json"),
    log:
        P.log("train_router", "{combo}"),
    benchmark:
        P.benchmark("train_router", "{combo}")
    conda:
        ENV
    threads: 1
    params:
        args=as_arg(neulig_params()),
    shell:
        "neulig route --combo {wildcards.combo} --params {params.args} --threads {threads}"
        " --experts {input.experts} --features {input.features} --heads {input.heads}"
        " --data {input.meta} --out-router {output.router} --out-betas {output.betas}"
        " --out {output.records} > {log} 2>&1"
