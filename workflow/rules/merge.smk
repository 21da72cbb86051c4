rule merge_experts:
    input:
        meta=all_data_meta(),
        pretrained="results/pretrained/vision.safetensors",
        experts=expert_checkpoints(),
        heads="results/pretrained/heads.safetensors",
    output:
        model="results/merge/{method}/vision.safetensors",
        info="results/merge/{method}/vision.json",
    log:
        "logs/merge_experts/{method}.log",
    benchmark:
        "benchmarks/rules/merge_experts/{method}.tsv"
    conda:
        ENV
    threads: 1
    params:
        args=lambda w: as_arg(merge_params(w.method)),
        data=task_dirs(),
    shell:
        "neulig merge --method {wildcards.method} --params {params.args} --threads {threads}"
        " --pretrained {input.pretrained} --experts {input.experts} --data {params.data}"
        " --heads {input.heads} --out {output.model} > {log} 2>&1"
