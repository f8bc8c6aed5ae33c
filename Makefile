# lstm-zoo: every job is a make target. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_BIN ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
# CPU wheel from this machine's disk; a GPU user names a CUDA build instead, e.g.
#   make install TORCH_SPEC="torch==2.13.0" TORCH_INDEX="--index-url https://download.pytorch.org/whl/cu128"
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=

SWEEP ?= sentiment_sst2
# the model comparison (LSTM or another model?): its specs in sweeps/, comma-separated
COMPARE ?= compare_trec,compare_sst2,compare_tinyshakespeare
# the variant study (Greff et al. 2017): its sweeps, comma-separated
STUDY ?= variants_trec,variants_sst2
N_TRIALS ?=
WORKERS ?=
TASK ?=
MODEL ?=
DATA ?=
ARGS ?=
HOST ?= 127.0.0.1
PORT ?= 5000
comma := ,

# Hydra overrides built from the make variables that are set.
OVERRIDES := $(if $(TASK),task=$(TASK)) $(if $(DATA),data=$(DATA)) $(if $(MODEL),model=$(MODEL)) $(ARGS)

RUN_ID ?=
ENSEMBLE ?=
NAME ?=
EXPERIMENT ?=
SEEDS ?=
FOLDS ?=
VERSION ?= challenger
SERVE_PORT ?= 5001

.PHONY: help install test test-slow spark fuzz soak load ui-screenshots lint docs data train sweep study compare benchmark register promote export serve zoo reproduce explain throughput bench ui services services-stop clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: ## create .venv (Python 3.11) and install torch, the package and its dev tools
	test -x $(PY) || $(PYTHON_BIN) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)" $(TORCH_INDEX)
	$(PY) -m pip install --quiet -e ".[dev]"
	@$(PY) -c "import torch, lightning, mlflow, optuna; print('installed: torch', torch.__version__, '| lightning', lightning.__version__, '| mlflow', mlflow.__version__, '| optuna', optuna.__version__)"

# pytest workers for `make test` (pytest-xdist; a test file stays on one worker, so a module's
# servers start once): 2 on a 2-core machine took 10 min where one took 19; 0 runs in one process
TEST_WORKERS ?= 2

test: ## check the layer contract (import-linter), build the docs (mkdocs --strict) and run the fast offline test suite (uses ../shared/data; TEST_WORKERS=2)
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mkdocs build --strict --site-dir site
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

test-slow: spark ## run the long end-to-end tests too (full recipes, Spark scoring in local mode)
	$(PY) -m pytest -q -m slow

spark: ## PySpark (the [spark] extra) for zoo-spark-score, and a Java runtime from the system packages if there is none
	@command -v java >/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && apt-get install -y -qq openjdk-17-jre-headless; } || { echo "error: Spark needs a Java runtime 17+: install openjdk-17-jre-headless" >&2; exit 2; }
	$(PY) -m pip install --quiet -e ".[dev,spark]"

fuzz: ## property-based fuzzing, long profile (>= 10,000 cases; make test runs the short one): prints the case count
	ZOO_FUZZ=long $(PY) -m pytest -q tests/test_fuzz.py

soak: data ## chaos soak: a 4-worker sweep on a private PostgreSQL + the team MLflow server while workers are killed and both servers restart; checks and prints the survival table
	$(PY) scripts/chaos_soak.py $(ARGS)

ui-screenshots: ## the MLflow UI check (headless Chromium), its screenshots written to docs/ui/
	ZOO_UI_SCREENSHOTS=$(CURDIR)/docs/ui $(PY) -m pytest -q -p no:randomly tests/test_team_deployment.py -k mlflow_ui

lint: ## ruff check and the layer contract
	$(VENV)/bin/ruff check zoo tests
	$(VENV)/bin/lint-imports --no-cache

docs: ## build the documentation site (docs/, mkdocs.yml) into site/; --strict: a broken link fails
	$(VENV)/bin/mkdocs build --strict --site-dir site

data: ## link the benchmark datasets into $ZOO_DATA_DIR (default data/)
	$(PY) -m zoo.data.link

train: data ## train a recipe: make train TASK=sentiment MODEL=bilstm DATA=sst2 ARGS="model.num_layers=2"
	$(PY) -m zoo.train $(OVERRIDES)

sweep: data ## Optuna sweep (resumes on rerun): make sweep SWEEP=sentiment_sst2 N_TRIALS=12 WORKERS=2 ARGS="pruner=none"
	$(PY) -m zoo.sweep sweep=$(SWEEP) $(if $(N_TRIALS),n_trials=$(N_TRIALS)) $(if $(WORKERS),workers=$(WORKERS)) $(ARGS)

study: data ## variant study: run each sweep (resumes), write docs/variants.md: make study [STUDY=variants_trec] [N_TRIALS=] [WORKERS=]
	@set -e; for sweep in $(subst $(comma), ,$(STUDY)); do \
	  $(PY) -m zoo.sweep sweep=$$sweep $(if $(N_TRIALS),n_trials=$(N_TRIALS)) $(if $(WORKERS),workers=$(WORKERS)) $(ARGS); \
	done
	$(PY) -m zoo.study sweeps=$(STUDY)

compare: data ## LSTM or another model? each comparison (resumes), into docs/lstm-or-not.md: make compare [COMPARE=compare_trec] [WORKERS=2]
	@set -e; for spec in $(subst $(comma), ,$(COMPARE)); do \
	  $(PY) -m zoo.compare spec=$$spec $(if $(N_TRIALS),n_trials=$(N_TRIALS)) $(if $(WORKERS),workers=$(WORKERS)) $(ARGS); \
	done

benchmark: data ## recipes over seeds (and folds): make benchmark EXPERIMENT=sst2_bilstm,trec_bilstm SEEDS=5 [FOLDS=10] [WORKERS=2]
	$(PY) -m zoo.benchmark $(if $(EXPERIMENT),experiment=$(EXPERIMENT)) seeds=$(or $(SEEDS),5) $(if $(FOLDS),folds=$(FOLDS)) $(if $(WORKERS),workers=$(WORKERS)) $(OVERRIDES)

register: ## register a run (RUN_ID=) or a benchmark's seed ensemble (ENSEMBLE=<parent run id>), promote on merit
	$(PY) -m zoo.register $(if $(ENSEMBLE),ensemble=$(ENSEMBLE),run_id=$(RUN_ID))

promote: ## make a version champion if it beats the current one: make promote NAME=sst2-sentiment VERSION=3
	$(PY) -m zoo.promote model=$(NAME) version=$(VERSION)

export: ## a registered classifier as <name>-onnx, scored by ONNX Runtime: make export MODEL=models:/sst2-sentiment@champion [ARGS="out=network.onnx"]
	$(PY) -m zoo.export model="$(MODEL)" format=onnx $(ARGS)

serve: ## REST server for a registered model: make serve MODEL=models:/sst2-sentiment@champion [SERVE_WORKERS=1] [SERVE_THREADS=1]
	$(PY) -m zoo.serve model="$(MODEL)" host=$(HOST) port=$(SERVE_PORT) workers=$(or $(SERVE_WORKERS),1) $(if $(SERVE_THREADS),threads=$(SERVE_THREADS))

load: ## bounded load test of zoo-serve (8/32/64 clients, 60 s each, loopback): make load MODEL=models:/trec-classification@champion [WORKERS=1,2] [THREADS=1,2]
	$(PY) scripts/load_test.py model="$(MODEL)" $(if $(WORKERS),workers=$(WORKERS)) $(if $(THREADS),threads=$(THREADS)) $(ARGS)

zoo: data ## train every conf/experiment recipe (SEEDS=3: over seeds), register each, write ZOO.md + docs/zoo.png (EXPLAIN=1: then explain every champion)
	$(PY) -m zoo.model_zoo $(if $(SEEDS),seeds=$(SEEDS)) $(if $(EXPLAIN),explain=true) $(ARGS)

reproduce: data ## retrain a registered model from its logged config and compare: make reproduce MODEL=models:/sst2-sentiment/1
	$(PY) -m zoo.reproduce model=$(MODEL) $(ARGS)

explain: data ## what a model learned (gates, cells, token attributions) over its test split: make explain MODEL=models:/tinyshakespeare-generation@champion [ARGS="report=true"]
	$(PY) -m zoo.explain model=$(MODEL) $(ARGS)

throughput: data ## tokens/s: zoo step vs plain PyTorch loop, bucketing vs naive padding (ARGS=--cores: every core; ARGS="--precision bf16-mixed experiment=sst2_lstm": bf16 vs fp32)
	$(PY) -m zoo.throughput $(ARGS)

bench: throughput ## the old name of `throughput`, kept for one release

ui: ## MLflow UI on http://$(HOST):$(PORT) over the embedded store (or $MLFLOW_TRACKING_URI)
	@echo "MLflow 3 opens in its GenAI mode: flip the sidebar switch to 'Model training' once (the browser keeps it), or open the link a run's summary prints"
	$(VENV)/bin/mlflow ui --host $(HOST) --port $(PORT) --backend-store-uri "$${MLFLOW_TRACKING_URI:-sqlite:///$(CURDIR)/mlflow.db}"

services: ## team deployment (needs MLFLOW_AUTH_ADMIN_PASSWORD): authenticated MLflow server on PostgreSQL + shared artifact root, Optuna DB; prints the exports (scripts/services.sh)
	ZOO_PYTHON=$(abspath $(PY)) bash scripts/services.sh start

services-stop: ## stop the MLflow server that `make services` started (databases and artifacts are kept)
	ZOO_PYTHON=$(abspath $(PY)) bash scripts/services.sh stop

clean: ## remove caches and run outputs (keeps mlflow.db, optuna.db and data/)
	rm -rf .pytest_cache .ruff_cache logs outputs multirun lightning_logs .cache
	find . -name __pycache__ -prune -exec rm -rf {} +
