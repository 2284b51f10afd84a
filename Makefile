# E-Loyalty Workbench. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_SYS ?= python3
VENV       := .venv
PY         := $(VENV)/bin/python
STAMP      := $(VENV)/.installed
CLIENT     ?= default
CLIENTS    ?=
WORKERS    ?=
JOBS       ?= 2
ARGS       ?=
# Jupyter refuses to start as root unless told; containers often run as root.
ROOT_FLAG  := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: help setup report reports test test-fast bench lab survey lock clean clean-all

help: ## Show this help
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'
	@echo "  Variables: CLIENT=$(CLIENT) (reports/clients/<CLIENT>.yml), JOBS=$(JOBS), ARGS=... (passed to pytest / jupyter lab)"
	@echo "             CLIENTS=\"a b\" (make reports: these profiles; default all), WORKERS=N (Dask workers; default all cores), FORCE=1 (rebuild unchanged)"

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON_SYS) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required; found " + sys.version.split()[0])'
	test -x $(PY) || $(PYTHON_SYS) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	PYTHONWARNINGS=ignore $(PY) -m pip install --quiet --no-deps -e .  # setuptools warns about every editable install
	$(PY) -m ipykernel install --sys-prefix --name eloyalty --display-name "E-Loyalty (.venv)" >/dev/null
	touch $(STAMP)

setup: $(STAMP) ## Create .venv and install the pinned requirements (done automatically)

report: $(STAMP) ## Run the study notebook and render reports/_output/$(CLIENT)/ (CLIENT=default; several names: a batch)
	$(if $(word 2,$(CLIENT)),$(MAKE) --no-print-directory reports CLIENTS="$(CLIENT)",$(PY) -m analysis report --client $(CLIENT))

reports: $(STAMP) ## Render every client profile in parallel on Dask, skipping unchanged ones (CLIENTS="a b", WORKERS=N, FORCE=1)
	$(PY) -m analysis batch $(if $(strip $(CLIENTS)),--clients "$(strip $(CLIENTS))") $(if $(WORKERS),--workers $(WORKERS)) $(if $(FORCE),--force)

test: $(STAMP) ## Run the whole test suite (unit, lavaan parity, recovery, end-to-end)
	$(PY) -m pytest -n $(JOBS) -q $(ARGS)

test-fast: $(STAMP) ## Run the suite without the end-to-end report renders (-m "not slow")
	$(PY) -m pytest -n $(JOBS) -q -m "not slow" $(ARGS)

bench: $(STAMP) ## Run the benchmarks: ratios side by side with lavaan (when Rscript + lavaan exist) and in-process baselines
	$(PY) -m benchmarks

survey: $(STAMP) ## Write the codebook and printable questionnaires to reports/_output/survey/
	$(PY) -m analysis survey export --out reports/_output/survey

lab: $(STAMP) ## Start JupyterLab with the project kernel (extra options: ARGS="--port 8899 --no-browser")
	$(VENV)/bin/jupyter lab notebooks/ $(ROOT_FLAG) $(ARGS)

lock: ## Re-resolve requirements.in into requirements.lock (needs network to the package index)
	rm -rf .lockvenv && $(PYTHON_SYS) -m venv .lockvenv
	.lockvenv/bin/pip install --quiet -r requirements.in
	{ echo "# Exact pins for Python 3.11, resolved from requirements.in by 'make lock'. Do not edit by hand."; .lockvenv/bin/pip freeze; } > requirements.lock
	rm -rf .lockvenv

clean: ## Remove generated reports and data (keeps .venv); `make clean-all` also removes .venv
	rm -rf reports/_output data/simulated .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

clean-all: clean ## Remove everything generated, including .venv
	rm -rf $(VENV)
