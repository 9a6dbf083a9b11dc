# fxwatch — every workflow is one make target. Run `make help` for the list.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
FX := $(BIN)/fxwatch
JARS := .stack/jars
POM := docker/pom.xml
JAR_STAMP := $(JARS)/.resolved-$(shell sha1sum $(POM) 2>/dev/null | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: help setup demo test test-unit lint notebooks lab stack-up stack-down stack-status bench clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# Dash ships its JupyterLab extension as an old-style source package that JupyterLab can only use
# after `jupyter lab build` (Node.js, network, minutes), so every `make lab` greeted users with
# "Build Recommended"; accepting it failed. Inline dashboards (jupyter_mode="inline", notebook 06)
# do not need it: drop it from the venv's Lab application directory (pip installs it again with
# dash, so `setup` removes it every time). Disabling it is not enough: Lab still asks to build.
DASH_LABEXT := $(VENV)/share/jupyter/lab/extensions/dash-jupyterlab.tgz

setup: $(BIN)/.installed $(JAR_STAMP)  ## venv + pinned packages + JVM jars (idempotent, fast when done)
	@rm -f $(DASH_LABEXT)

$(BIN)/.installed: pyproject.toml
	@command -v java >/dev/null || { echo "Java 17 is missing: install OpenJDK 17 (apt install openjdk-17-jdk-headless)"; exit 1; }
	@command -v mvn >/dev/null || { echo "Maven is missing: install it (apt install maven)"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name fxwatch --display-name "Python (fxwatch)" >/dev/null
	touch $@

$(JAR_STAMP): $(POM)
	@for p in kafka cassandra spark-kafka; do \
	  echo "resolving $$p jars from Maven Central"; \
	  rm -rf $(JARS)/$$p; \
	  mvn -q -B -f $(POM) -P$$p dependency:copy-dependencies -DincludeScope=runtime \
	      -DoutputDirectory=$(CURDIR)/$(JARS)/$$p || exit 1; \
	done
	rm -f $(JARS)/.resolved-*
	touch $@

stack-up: setup  ## start Kafka + Cassandra locally (no Docker)
	$(FX) stack up

stack-down:  ## stop them
	$(FX) stack down

stack-status:
	$(FX) stack status

demo: stack-up  ## the whole pipeline on the bundled sample, then where to look
	$(FX) demo

test: lint stack-up  ## lint, layers, then the full test suite against the real local stack
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup  ## ruff (lint + format check) and the import layers contract (pyproject.toml)
	$(BIN)/ruff check lib tests bench notebooks data
	$(BIN)/ruff format --check lib tests bench notebooks data
	$(BIN)/lint-imports

test-unit: lint  ## only tests that need no running services
	$(BIN)/python -m pytest -m "not integration and not spark and not notebooks and not browser and not faults" $(PYTEST_ARGS)

notebooks: stack-up  ## execute every numbered notebook with papermill into runs/notebooks/
	$(FX) notebooks run

lab: setup  ## JupyterLab on the project with the project's kernel
	$(BIN)/jupyter lab --notebook-dir=notebooks --ServerApp.ip=127.0.0.1 $(if $(filter 0,$(shell id -u)),--allow-root)

bench: stack-up  ## the benchmarks of bench/README.md
	$(FX) bench pipeline

clean:  ## remove runs/ and local stack data (keeps venv and jars)
	-$(FX) stack reset
	rm -rf runs
