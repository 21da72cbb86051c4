"""DVC versions what Snakemake produces: share, pull-then-nothing-to-do, targeted reruns, a
corrupt cache, metrics across commits, partial runs, and each experiment's own declaration of
its metrics and plots, in throw-away git + DVC repositories."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
import yaml

from .workflow_helpers import (
    ROOT,
    TEST_CONFIG,
    digests,
    git_dvc_repo,
    layout_copy,
    planned_jobs,
    sh,
    snakemake,
    with_venv,
)

slow = pytest.mark.slow  # every test here but the declarations' one needs whole runs


def copy_of(repo: Path, dest: Path) -> Path:
    shutil.copytree(repo, dest, symlinks=True)
    return dest


def edit_config(work: Path, edit) -> None:
    config = yaml.safe_load((work / "config" / "config.yaml").read_text())
    edit(config)
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(config))


POINTERS = ("data.dvc", "results/ci.dvc", "reports/ci.dvc", "reports/ci-suite.dvc")
SHARED = ("data", "results/ci", "reports/ci", "reports/ci-suite")


@slow
def test_a_run_leaves_only_dvc_pointers_to_commit(tiny_run):
    tracked = set(sh("git", "ls-files", cwd=tiny_run).split())
    assert set(POINTERS) <= tracked
    assert not any(p.startswith(tuple(f"{d}/" for d in SHARED)) for p in tracked)
    status = sh("dvc", "status", *POINTERS, cwd=tiny_run)
    assert "Data and pipelines are up to date" in status
    umask = os.umask(0o022)
    os.umask(umask)
    files = [p for d in SHARED for p in (tiny_run / d).rglob("*") if p.is_file()]
    modes = {stat.S_IMODE(p.stat().st_mode) for p in files}
    assert modes == {0o666 & ~umask}  # readable as the umask says, on a shared filesystem


@slow
def test_make_pull_restores_every_experiment_and_leaves_nothing_to_do(tiny_run, tmp_path):
    clone = tmp_path / "clone"
    sh("git", "clone", "-q", str(tiny_run), str(clone), cwd=tmp_path)
    with_venv(clone)
    remote = str(tiny_run.parent / "remote")
    sh("dvc", "remote", "modify", "--local", "local", "url", remote, cwd=clone)
    sh("make", "-o", "setup", "pull", cwd=clone)
    for folder in SHARED:
        assert digests(clone / folder) == digests(tiny_run / folder) != {}, folder
    for profile in ((), ("--configfile", "config/suite.yaml")):
        assert "Nothing to be done" in snakemake("-n", *profile, cwd=clone).stdout, profile


@slow
def test_one_learning_rate_reruns_exactly_its_descendants(tiny_run, tmp_path):
    work = copy_of(tiny_run, tmp_path / "edited")
    edit_config(work, lambda c: c["tasks"]["shapes"].update(finetune={"lr": 5e-4}))
    assert planned_jobs(work) == {
        "finetune_expert": 1,  # shapes only
        "finetune_expert_seed": 1,  # shapes from the other initialisation (alignment)
        "align_experts": 4,  # both settings align a shapes expert
        "evaluate_model": 1 + 5,  # its features + the merged models (WeMoE is per input)
        "merge_experts": 6,
        "merge_per_task": 2,  # TALL and EMR: one model per task
        "ensemble_experts": 2,
        "merge_counterpart": 4,  # averaging, TA, AdaMerging and WeMoE at prediction level
        "merge_pair": 2,  # Figure 3's TIES on the two pairs with shapes
        "train_router": 3,  # the combinations that contain shapes
        "train_router_loss": 1,  # the semi router over all tasks
        "report_tables": 1,
        "all": 1,
    }
    edit_config(work, lambda c: c["tasks"]["shapes"].pop("finetune"))
    edit_config(work, lambda c: c["report"].update(title="another title"))
    assert planned_jobs(work) == {"report_tables": 1, "all": 1}
    edit_config(work, lambda c: c["neulig"].update(alpha=0.1))
    # routers, and the alignment jobs that merge their pair with NeuLig
    assert planned_jobs(work) == {
        "train_router": 4,
        "train_router_loss": 1,
        "align_experts": 4,
        "report_tables": 1,
        "all": 1,
    }


@slow
def test_corrupt_cache_file_is_detected(tiny_run, tmp_path):
    clone = copy_of(tiny_run, tmp_path / "corrupt")
    target = clone / "results" / "ci" / "eval" / "pretrained.json"
    cache = clone / ".dvc" / "cache" / "files" / "md5"
    victim = next(
        p for p in cache.rglob("*") if p.is_file() and p.read_bytes() == target.read_bytes()
    )
    victim.chmod(0o644)
    victim.write_text("corrupted")
    target.unlink()
    out = sh("dvc", "status", cwd=clone)
    assert "not in cache" in out and "results" in out


@slow
def test_metrics_diff_between_two_commits_shows_the_changed_numbers(tiny_run, tmp_path):
    work = copy_of(tiny_run, tmp_path / "metrics")  # the run declared its metrics itself
    declared = yaml.safe_load((work / "dvc/ci/dvc.yaml").read_text())["metrics"]
    assert "../../reports/ci/metrics.json" in declared
    before = json.loads((work / "reports" / "ci" / "metrics.json").read_text())
    chosen = yaml.safe_load(
        (work / "results" / "ci" / "merge" / "ties" / "vision.json").read_text()
    )
    other = [s for s in (0.5, 1.0) if s != chosen["hparams"]["scaling"]]
    edit_config(work, lambda c: c["merge"]["ties"].update(search={"scaling": other}))
    snakemake("--cores", "2", cwd=work)
    sh("git", "add", "-A", cwd=work)
    sh("git", "commit", "-qm", "other TIES scaling", cwd=work)
    after = json.loads((work / "reports" / "ci" / "metrics.json").read_text())
    changed = [
        k for k, v in after["average_accuracy"].items() if before["average_accuracy"][k] != v
    ]
    diff = sh("dvc", "metrics", "diff", "HEAD~1", "HEAD", cwd=work)
    assert "average_accuracy.ties" in diff or not changed
    for key in changed:
        assert f"average_accuracy.{key}" in diff and str(after["average_accuracy"][key]) in diff
    plots = sh("dvc", "plots", "show", "-o", str(tmp_path / "plots"), cwd=work)
    assert (tmp_path / "plots" / "index.html").exists(), plots


@pytest.mark.parametrize(
    "args",
    [
        ("-n",),
        ("--until", "download_dataset"),
        ("data/digits/meta.json",),
    ],
)
@slow
def test_partial_runs_record_what_exists_and_succeed(tmp_path, args):
    repo = git_dvc_repo(tmp_path / "repo")
    (repo / "config").mkdir()
    shutil.copy(ROOT / "config" / "config.yaml", repo / "config" / "config.yaml")
    if args[0] == "--until":  # every download of the smaller test config
        shutil.copy(TEST_CONFIG, repo / "config" / "config.yaml")
    snakemake("--cores", "2", *args, cwd=repo)
    status = sh("git", "status", "--porcelain", cwd=repo)
    if args == ("-n",):
        assert not (repo / "data").exists() and "data.dvc" not in status
    else:
        assert "data.dvc" in status and not (repo / "results").exists()
        assert list((repo / "data").glob("digits*/train.images.npy"))


def fake_report(repo: Path, experiment: str, accuracy: float) -> None:
    """What a run's report writes for DVC, recorded by `dvc add` as a run's onsuccess does."""
    plots = repo / "reports" / experiment / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    (plots.parent / "metrics.json").write_text(json.dumps({"average_accuracy": {"ties": accuracy}}))
    (plots / "average_accuracy.csv").write_text(f"method,accuracy\nTIES merging,{accuracy}\n")
    (plots / "neulig_gap.csv").write_text("n_models,gap\n2,-0.1\n")
    sh("dvc", "add", "--quiet", f"reports/{experiment}", cwd=repo)


def test_every_experiment_declares_its_own_metrics_and_plots(tmp_path):
    """The project's real layout (its .gitignore, .dvcignore, no hand-written dvc.yaml): an
    experiment named only on the command line appears in `dvc metrics show` and `dvc plots`,
    and `dvc metrics diff` compares it across commits, with no file edited."""
    repo = layout_copy(tmp_path / "repo")
    assert not (repo / "dvc.yaml").exists()
    for experiment in ("tiny", "another"):
        target = f"dvc/{experiment}/dvc.yaml"
        snakemake(target, "--cores", "1", "--config", f"experiment={experiment}", cwd=repo)
        fake_report(repo, experiment, 30.0)
    shown = sh("dvc", "metrics", "show", cwd=repo)
    for experiment in ("tiny", "another"):
        assert f"reports/{experiment}/metrics.json" in shown, shown
    # to commit: the declaration and the pointer, nothing of the report itself
    status = sh("git", "status", "--porcelain", "--untracked-files=all", cwd=repo).split()
    assert {"dvc/another/dvc.yaml", "reports/another.dvc"} <= set(status)
    assert not any(p.startswith("reports/another/") for p in status)
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-qm", "two experiments", cwd=repo)
    fake_report(repo, "another", 31.5)
    diff = sh("dvc", "metrics", "diff", "HEAD", cwd=repo)
    assert "reports/another/metrics.json" in diff and "31.5" in diff, diff
    assert "reports/tiny/metrics.json" not in diff  # unchanged
    plots = sh("dvc", "plots", "show", "--json", cwd=repo)
    for experiment in ("tiny", "another"):
        assert f"{experiment}: average test accuracy per method" in plots, plots
