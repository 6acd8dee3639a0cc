# The two set-up commands of the README. Each creates .venv from requirements.txt when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test browser bench

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

## run: generate the synthetic demo data and train on it (images and sounds)
run: $(VENV)/.installed
	$(PY) -m core demo

## browser: Debian's headless Chromium for the real-browser tests (installed when running as root)
browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	else echo "chromium is missing: run 'sudo apt-get install chromium chromium-driver' (browser tests will be skipped)"; fi

## test: the whole test suite
test: $(VENV)/.installed browser
	$(PY) -m pytest

## bench: the benchmarks of bench/ (the real-data ones need ../shared/data); see docs/benchmarks.md
bench: $(VENV)/.installed
	$(PY) -m bench.cached_features
	$(PY) -m bench.serving
	$(PY) -m bench.dashboard
	$(PY) -m bench.real_data heart --models custom_cnn,mobilenet_v2
	$(PY) -m bench.real_data throat --models custom_cnn,mobilenet_v2
