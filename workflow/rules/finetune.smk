rule finetune_expert:
    input:
        unpack(get_task_data),
        pretrained=P.results("pretrained", "vision.safetensors"),
        pretrained_info=P.results("pretrained", "vision.json"),
        heads=P.heads,
    output:
        model=P.results("finetune", "{task}", "vision.safetensors"),
        info=P.results("finetune", "{task}", "vision.json"),
    log:
        P.log("finetune_expert", "{task}"),
    benchmark:
        P.benchmark("finetune_expert", "{task}")
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
