# The two set-up commands of the README. Each creates .venv from requirements.txt when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test bench

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

## run: generate the synthetic demo data and train on it (images and sounds)
run: $(VENV)/.installed
	$(PY) -m core demo

## test: the whole test suite
test: $(VENV)/.installed
	$(PY) -m pytest

## bench: the benchmarks of bench/ (needs ../shared/data for the real-data ones)
bench: $(VENV)/.installed
	$(PY) -m bench.cached_features
