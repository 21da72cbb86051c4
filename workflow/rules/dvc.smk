# DVC's comparison UI over the runs (`dvc metrics show`, `dvc plots diff HEAD~1`): each
# experiment declares its report's metrics and plots in dvc/<experiment>/dvc.yaml, so a new
# experiment needs no hand-written declaration. DVC collects every dvc.yaml of the repository.
rule dvc_declarations:
    output:
        P.dvc_file,
    log:
        P.log("dvc_declarations", "dvc_declarations"),
    localrule: True
    conda:
        ENV
    params:
        declarations=dvc_params(),
    shell:
        "neulig dvc-yaml --params {params.declarations} --out {output} > {log} 2>&1"
