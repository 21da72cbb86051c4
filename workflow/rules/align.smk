rule pretrain_vision_seed:
    input:
        unpack(get_all_data),
        text=P.results("pretrained", "text.safetensors"),
    output:
        model=P.results("pretrained_seed{seed}", "vision.safetensors"),
        info=P.results("pretrained_seed{seed}", "vision.json"),
    log:
        P.log("pretrain_vision_seed", "{seed}"),
    benchmark:
        P.benchmark("pretrain_vision_seed", "{seed}")
    conda:
        ENV
    threads: 1
    resources:
        gpu=1,
    params:
        args=lambda w: as_arg(pretrain_params(w.seed)),
    shell:
        "neulig pretrain-vision --params {params.args} --threads {threads} --data {input.meta}"
        " --text {input.text} --out {output.model} > {log} 2>&1"


rule finetune_expert_seed:
    input:
        unpack(get_task_data),
        pretrained=P.results("pretrained_seed{seed}", "vision.safetensors"),
        pretrained_info=P.results("pretrained_seed{seed}", "vision.json"),
        heads=P.heads,
    output:
        model=P.seeded_expert("{task}", "{seed}"),
        info=P.sidecar(P.seeded_expert("{task}", "{seed}")),
    log:
        P.log("finetune_expert_seed", "{seed}", "{task}"),
    benchmark:
        P.benchmark("finetune_expert_seed", "{seed}", "{task}")
    conda:
        ENV
    threads: 1
    resources:
        gpu=1,
    params:
        args=lambda w: as_arg(finetune_params(w.task)),
    shell:
        "neulig finetune --params {params.args} --threads {threads} --data {input.meta}"
        " --pretrained {input.pretrained} --heads {input.heads} --out {output.model}"
        " > {log} 2>&1"


rule align_experts:
    input:
        unpack(get_align_inputs),
        heads=P.heads,
    output:
        model=P.results("align", "{setting}", "{method}", "vision.safetensors"),
        info=P.results("align", "{setting}", "{method}", "vision.json"),
        perms=P.results("align", "{setting}", "{method}", "perms.safetensors"),
        records=P.results("align", "{setting}", "{method}", "records.json"),
    log:
        P.log("align_experts", "{setting}", "{method}"),
    benchmark:
        P.benchmark("align_experts", "{setting}", "{method}")
    conda:
        ENV
    threads: 1
    params:
        args=as_arg(align_params()) if ALIGN else "",
    shell:
        "neulig align --method {wildcards.method} --setting {wildcards.setting}"
        " --params {params.args} --threads {threads} --reference {input.reference}"
        " --other {input.other} --data {input.meta} --heads {input.heads}"
        " --out {output.model} --out-perms {output.perms} --out-records {output.records}"
        " > {log} 2>&1"


rule align_expert:
    input:
        unpack(get_diverse_expert),
    output:
        model=P.results("aligned", "{task}", "vision.safetensors"),
        info=P.results("aligned", "{task}", "vision.json"),
    log:
        P.log("align_expert", "{task}"),
    benchmark:
        P.benchmark("align_expert", "{task}")
    conda:
        ENV
    threads: 1
    params:
        args=as_arg(origin_params()),
    shell:
        "neulig align-expert --params {params.args} --threads {threads}"
        " --reference {input.reference} --other {input.other} --data {input.meta}"
        " --out {output.model} > {log} 2>&1"
