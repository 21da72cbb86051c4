rule pretrain_clip:
    input:
        meta=all_data_meta(),
    output:
        model="results/pretrained/vision.safetensors",
        info="results/pretrained/vision.json",
        heads="results/pretrained/heads.safetensors",
        text="results/pretrained/text.safetensors",
    log:
        "logs/pretrain_clip.log",
    benchmark:
        "benchmarks/rules/pretrain_clip.tsv"
    conda:
        ENV
    threads: 2
    resources:
        gpu=1,
    params:
        args=as_arg(pretrain_params()),
        data=task_dirs(),
    shell:
        "neulig pretrain --params {params.args} --threads {threads} --data {params.data}"
        " --out {output.model} --out-heads {output.heads} --out-text {output.text} > {log} 2>&1"
