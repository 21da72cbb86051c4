rule train_router:
    input:
        unpack(get_combo_data),
        unpack(get_combo_models),
        heads=P.heads,
    output:
        router=P.results("neulig", "{combo}", "router.safetensors"),
        info=P.results("neulig", "{combo}", "router.json"),
        betas=P.results("neulig", "{combo}", "betas.json"),
        records=P.results("neulig", "{combo}", "records.json"),
    log:
        P.log("train_router", "{combo}"),
    benchmark:
        P.benchmark("train_router", "{combo}")
    conda:
        ENV
    threads: 1
    params:
        args=as_arg(P.router_params()),
    shell:
        "neulig route --combo {wildcards.combo} --params {params.args} --threads {threads}"
        " --experts {input.experts} --features {input.features} --heads {input.heads}"
        " --data {input.meta} --out-router {output.router} --out-betas {output.betas}"
        " --out {output.records} > {log} 2>&1"


# The router over all tasks with another loss, for the levels table's NeuLig rows.
use rule train_router as train_router_loss with:
    output:
        router=P.results("neulig_{loss}", "{combo}", "router.safetensors"),
        info=P.results("neulig_{loss}", "{combo}", "router.json"),
        betas=P.results("neulig_{loss}", "{combo}", "betas.json"),
        records=P.results("neulig_{loss}", "{combo}", "records.json"),
    log:
        P.log("train_router_loss", "{loss}", "{combo}"),
    benchmark:
        P.benchmark("train_router_loss", "{loss}", "{combo}")
    params:
        args=lambda w: as_arg(P.router_params(w.loss)),
