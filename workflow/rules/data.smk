rule download_dataset:
    output:
        meta="data/{task}/meta.json",
    log:
        "logs/download_dataset/{task}.log",
    benchmark:
        "benchmarks/rules/download_dataset/{task}.tsv"
    conda:
        ENV
    params:
        args=lambda w: as_arg(download_params(w.task)),
        out=lambda w, output: os.path.dirname(output.meta),
    shell:
        "neulig download --task {wildcards.task} --params {params.args} --out {params.out}"
        " > {log} 2>&1"
