rule finetune_expert:
    input:
        meta="data/{task}/meta.json",
        pretrained="results/pretrained/vision.safetensors",
        heads="results/pretrained/heads.safetensors",
    output:
        model="results/finetune/{task}/vision.safetensors",
        info="results/finetune/{task}/vision.json",
    log:
        "logs/finetune_expert/{task}.log",
    benchmark:
        "benchmarks/rules/finetune_expert/{task}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        gpu=1,
    params:
        args=lambda w: as_arg(finetune_params(w.task)),
        data=lambda w, input: os.path.dirname(input.meta),
    shell:
        "neulig finetune --params {params.args} --threads {threads} --data {params.data}"
        " --pretrained {input.pretrained} --heads {input.heads} --out {output.model}"
        " > {log} 2>&1"
