# A per-task method (TALL, EMR) writes records and a sidecar but no checkpoint: the two rules
# both write merge/<method>/vision.json, so each is held to its own methods.
rule merge_experts:
    input:
        unpack(get_all_data),
        pretrained=P.results("pretrained", "vision.safetensors"),
        pretrained_info=P.results("pretrained", "vision.json"),
        experts=expert_checkpoints(),
        infos=expert_sidecars(),
        heads=P.heads,
    output:
        model=P.results("merge", "{method}", "vision.safetensors"),
        info=P.results("merge", "{method}", "vision.json"),
    log:
        P.log("merge_experts", "{method}"),
    benchmark:
        P.benchmark("merge_experts", "{method}")
    wildcard_constraints:
        method=one_of(P.checkpoint_methods),
    conda:
        ENV
    threads: 1
    params:
        args=lambda w: as_arg(merge_params(w.method)),
    shell:
        "neulig merge --method {wildcards.method} --params {params.args} --threads {threads}"
        " --pretrained {input.pretrained} --experts {input.experts} --data {input.meta}"
        " --heads {input.heads} --out {output.model} > {log} 2>&1"


rule merge_per_task:
    input:
        unpack(get_all_data),
        pretrained=P.results("pretrained", "vision.safetensors"),
        pretrained_info=P.results("pretrained", "vision.json"),
        experts=expert_checkpoints(),
        infos=expert_sidecars(),
        heads=P.heads,
    output:
        records=P.results("merge", "{method}", "records.json"),
        info=P.results("merge", "{method}", "vision.json"),
    log:
        P.log("merge_per_task", "{method}"),
    benchmark:
        P.benchmark("merge_per_task", "{method}")
    wildcard_constraints:
        method=one_of(P.task_model_methods),
    conda:
        ENV
    threads: 1
    params:
        args=lambda w: as_arg(merge_params(w.method)),
    shell:
        "neulig merge-per-task --method {wildcards.method} --params {params.args}"
        " --threads {threads} --pretrained {input.pretrained} --experts {input.experts}"
        " --data {input.meta} --heads {input.heads} --out {output.records}"
        " --out-info {output.info} > {log} 2>&1"


rule merge_pair:
    input:
        unpack(get_pair_inputs),
    output:
        records=P.results("pairs", "{method}", "{combo}.json"),
        info=P.results("pairs", "{method}", "{combo}.info.json"),
    log:
        P.log("merge_pair", "{method}", "{combo}"),
    benchmark:
        P.benchmark("merge_pair", "{method}", "{combo}")
    conda:
        ENV
    threads: 1
    params:
        args=lambda w: as_arg(merge_params(w.method)),
    shell:
        "neulig pair --method {wildcards.method} --params {params.args} --threads {threads}"
        " --pretrained {input.pretrained} --experts {input.experts} --data {input.meta}"
        " --heads {input.heads} --pretrained-features {input.pretrained_features}"
        " --features {input.features} --out {output.records} --out-info {output.info}"
        " > {log} 2>&1"
