rule pretrain_clip:
    input:
        unpack(get_all_data),
        unpack(pretrained_weights),
    output:
        model=P.results("pretrained", "vision.safetensors"),
        info=P.results("pretrained", "vision.json"),
        heads=P.heads,
        text=P.results("pretrained", "text.safetensors"),
    log:
        P.log("pretrain_clip", "pretrain_clip"),
    benchmark:
        P.benchmark("pretrain_clip", "pretrain_clip")
    conda:
        ENV
    threads: 2
    resources:
        gpu=1,
    params:
        args=as_arg(pretrain_params()),
    shell:
        "neulig pretrain --params {params.args} --threads {threads} --data {input.meta}"
        " --out {output.model} --out-heads {output.heads} --out-text {output.text} > {log} 2>&1"
