rule download_dataset:
    output:
        meta="data/{dataset}/meta.json",
        arrays=multiext("data/{dataset}/", *ARRAY_FILES),
    log:
        "logs/download_dataset/{dataset}.log",
    benchmark:
        "benchmarks/rules/download_dataset/{dataset}.tsv"
    conda:
        ENV
    params:
        args=lambda w: as_arg(download_params(w)),
        task=lambda w: P.datasets()[w.dataset],
        out=lambda w, output: os.path.dirname(output.meta),
    shell:
        "neulig download --task {params.task} --params {params.args} --out {params.out}"
        " > {log} 2>&1"
