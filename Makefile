# `make run` installs everything into .venv and runs the default workflow; `make test` runs the
# test suite. Both are idempotent: the venv is rebuilt only when pyproject.toml changes.
VENV    ?= .venv
PYTHON  ?= python3
CORES   ?= 2
BIN     := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export HF_HUB_OFFLINE ?= 1

.PHONY: setup run test lint report docs benchmark push pull clean slurm-deps world-clip

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install --quiet -e .
	touch $@

# Test tools (and transformers, for the expert-import tests) only where tests run: importing
# transformers through open_clip costs every workflow job about a second.
# The fs storage plugin (tests/test_storage.py) copies files with rsync.
$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	command -v rsync >/dev/null || (apt-get update -qq && apt-get install -y -qq rsync)
	touch $@

# Packages of tests/test_slurm.py, a single-node Slurm cluster with accounting (Debian/Ubuntu,
# root): the daemons and the executor plugin; .ci/run calls it before `make test`.
SLURM_PACKAGES := slurm-wlm slurmdbd mariadb-server munge
slurm-deps: setup
	command -v slurmdbd mariadbd munged >/dev/null 2>&1 || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SLURM_PACKAGES))
	$(BIN)/pip install --quiet 'snakemake-executor-plugin-slurm>=2.8,<3'

# SNAKEMAKE_ARGS: more options, e.g. `--configfile .test/config/config.yaml` (what CI runs).
SNAKEMAKE_ARGS ?=

run: setup
	$(BIN)/snakemake --cores $(CORES) $(SNAKEMAKE_ARGS)

# The offline default's pretrained CLIP (config/model.pretrained), rebuilt from config/world.yaml:
# contrastive pretraining on the procedural world, then only the touched token rows are kept.
WORLD_CLIP := resources/NeuLig-Small-ViT-8-world.safetensors
WORLD_OUT  := results/world/pretrained
world-clip: setup
	$(BIN)/snakemake --cores $(CORES) --configfile config/world.yaml -- $(WORLD_OUT)/vision.safetensors
	$(BIN)/neulig export-clip --vision $(WORLD_OUT)/vision.safetensors \
		--text $(WORLD_OUT)/text.safetensors --out $(WORLD_CLIP)

report: run
	$(BIN)/snakemake --report reports/tiny.html

# docs/results.md's tables, rewritten from the reports the runs wrote (blocks whose report is
# not here are left as they are, and named).
docs: setup
	$(BIN)/python -m neulig.reporting.results_doc docs/results.md

# `make test` is the quick suite; CI (CI=true, see .ci/run) also runs the end-to-end variants
# marked `slow` (several full runs of the tiny test config). PYTEST_ARGS overrides either.
PYTEST_ARGS ?= $(if $(CI),,-m "not slow")

test: $(VENV)/.installed-test
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/snakefmt --check Snakefile workflow/Snakefile workflow/rules
	$(BIN)/snakemake --lint

benchmark: setup
	$(BIN)/python benchmarks/run_benchmarks.py

# Share results: push to / pull from the DVC remote (.dvc/config; override the folder with
# `dvc remote modify --local local url PATH`): data/ and every results/<experiment>/ and
# reports/<experiment>/ that a committed pointer (.dvc file) names. A pointer whose data the
# remote lacks (an experiment nobody pushed there) is skipped with a warning: snakemake builds
# it. DVC restores files in no set order, so their modification times mean nothing; the pull
# gives them one shared time, so no output is older than its inputs and `snakemake -n` (the
# default config or a suite) has nothing to do.
push: setup
	$(BIN)/dvc push

pull: setup
	$(BIN)/dvc pull --allow-missing
	mkdir -p .dvc/tmp && touch .dvc/tmp/pulled
	for d in data results reports; do \
		if [ -d $$d ]; then find $$d -type f -exec touch -r .dvc/tmp/pulled {} +; fi; done

clean:
	rm -rf results logs benchmarks/rules .snakemake
