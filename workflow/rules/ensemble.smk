rule ensemble_experts:
    input:
        features=expert_features(),
        heads="results/pretrained/heads.safetensors",
    output:
        records="results/ensemble/{method}.json",
    log:
        "logs/ensemble_experts/{method}.log",
    benchmark:
        "benchmarks/rules/ensemble_experts/{method}.tsv"
    conda:
        ENV
    threads: 1
    shell:
        "neulig ensemble --method {wildcards.method} --threads {threads}"
        " --features {input.features} --heads {input.heads} --out {output.records} > {log} 2>&1"
