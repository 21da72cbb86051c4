rule merge_experts:
    input:
        unpack(get_all_data),
        pretrained=P.results("pretrained", "vision.safetensors"),
        pretrained_info=P.results("pretrained", "vision.json"),
        experts=expert_checkpoints(),
        infos=expert_sidecars(),
        heads=P.results("pretrained", "heads.safetensors"),
    output:
        model=P.results("merge", "{method}", "vision.safetensors"),
        info=P.results("merge", "{method}", "vision.json"),
    log:
        P.log("merge_experts", "{method}"),
    benchmark:
        P.benchmark("merge_experts", "{method}")
    conda:
        ENV
    threads: 1
    params:
        args=lambda w: as_arg(merge_params(w.method)),
    shell:
        "neulig merge --method {wildcards.method} --params {params.args} --threads {threads}"
        " --pretrained {input.pretrained} --experts {input.experts} --data {input.meta}"
        " --heads {input.heads} --out {output.model} > {log} 2>&1"
