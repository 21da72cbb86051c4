rule pretrain_vision_seed:
    input:
        meta=all_data_meta(),
        text="results/pretrained/text.safetensors",
    output:
        model="results/pretrained_seed{seed}/vision.safetensors",
        info="results/pretrained_seed{seed}/vision.json",
    log:
        "logs/pretrain_vision_seed/{seed}.log",
    benchmark:
        "benchmarks/rules/pretrain_vision_seed/{seed}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        gpu=1,
    params:
        args=lambda w: as_arg(seed_pretrain_params(w.seed)),
        data=task_dirs(),
    shell:
        "neulig pretrain-vision --params {params.args} --threads {threads} --data {params.data}"
        " --text {input.text} --out {output.model} > {log} 2>&1"


rule finetune_expert_seed:
    input:
        meta="data/{task}/meta.json",
        pretrained="results/pretrained_seed{seed}/vision.safetensors",
        heads="results/pretrained/heads.safetensors",
    output:
        model="results/finetune_seed{seed}/{task}/vision.safetensors",
        info="results/finetune_seed{seed}/{task}/vision.json",
    log:
        "logs/finetune_expert_seed/{seed}/{task}.log",
    benchmark:
        "benchmarks/rules/finetune_expert_seed/{seed}/{task}.tsv"
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


rule align_experts:
    input:
        unpack(get_align_inputs),
        heads="results/pretrained/heads.safetensors",
    output:
        model="results/align/{experiment}/{method}/vision.safetensors",
        info="results/align/{experiment}/{method}/vision.json",
        perms="results/align/{experiment}/{method}/perms.safetensors",
        records="results/align/{experiment}/{method}/records.json",
    log:
        "logs/align_experts/{experiment}/{method}.log",
    benchmark:
        "benchmarks/rules/align_experts/{experiment}/{method}.tsv"
    conda:
        ENV
    threads: 1
    params:
        args=as_arg(align_params()),
        data=lambda w, input: [os.path.dirname(m) for m in input.meta],
    shell:
        "neulig align --method {wildcards.method} --experiment {wildcards.experiment}"
        " --params {params.args} --threads {threads} --reference {input.reference}"
        " --other {input.other} --data {params.data} --heads {input.heads}"
        " --out {output.model} --out-perms {output.perms} --out-records {output.records}"
        " > {log} 2>&1"
