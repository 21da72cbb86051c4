rule ensemble_experts:
    input:
        features=[P.features(f"expert_{t}") for t in P.tasks],
        heads=P.results("pretrained", "heads.safetensors"),
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
