# The two set-up commands of the README (`make run`, `make test`). Each creates .venv from requirements.txt
# when missing, and re-installs it when requirements.txt changes.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin

.PHONY: run test lint requirements system-packages azurite bench

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt  # pip itself is pinned there too
	touch $@

PORT ?= 8000
ARTIFACTS_DIR ?= artifacts

## run: the whole product on its demo data: trains on generated data if ARTIFACTS_DIR (a folder) has no run, then
## serves both apps with gunicorn; an object-storage ARTIFACTS_DIR (s3://...) is served as it is
run: $(VENV)/.installed
	@case "$(ARTIFACTS_DIR)" in *://*) ;; *) ls $(ARTIFACTS_DIR)/runs/*/status.json >/dev/null 2>&1 || ARTIFACTS_DIR=$(ARTIFACTS_DIR) $(PY) -m core demo;; esac
	@echo ""
	@echo "  Prediction app:      http://localhost:$(PORT)/"
	@echo "  Analytics dashboard: http://localhost:$(PORT)/analytics/"
	@echo "  (Ctrl-C stops both)"
	@echo ""
	ARTIFACTS_DIR=$(ARTIFACTS_DIR) PORT=$(PORT) $(VENV)/bin/gunicorn wsgi:application --config gunicorn.conf.py

## system-packages: Debian's chromium (real-browser tests) and postgresql (audit-log test), installed when running as root
system-packages:
	@missing=""; command -v chromium >/dev/null 2>&1 || missing="chromium chromium-driver"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "missing Debian packages: $$missing (sudo apt-get install $$missing); the tests that need them are skipped"; fi

## azurite: Microsoft's Azure Storage emulator, pinned, for the az:// tests (npm, into the git-ignored .tools/)
AZURITE_VERSION := 3.37.0
AZURITE := .tools/azurite/node_modules/azurite
azurite:
	@if grep -qs '"version": "$(AZURITE_VERSION)"' $(AZURITE)/package.json; then :; \
	elif command -v npm >/dev/null 2>&1; then \
		npm install --prefix .tools/azurite --no-audit --no-fund --no-save --silent azurite@$(AZURITE_VERSION) \
		|| echo "could not install azurite $(AZURITE_VERSION) with npm; the az:// tests are skipped"; \
	else echo "npm is not installed (Node.js 18 or later); the az:// tests (Azurite) are skipped"; fi

## lint: ruff's lint rules and formatting, then the import contracts of pyproject.toml (import-linter)
lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

## test: lint, then the whole test suite
test: lint system-packages azurite
	$(PY) -m pytest

## requirements: re-compile requirements.txt (every package pinned) from requirements.in with pip-tools;
## PIP_COMPILE_ARGS=--upgrade (or --upgrade-package NAME) moves pins forward
requirements: $(VENV)/.installed
	CUSTOM_COMPILE_COMMAND="make requirements" $(BIN)/pip-compile --quiet --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \
		$(PIP_COMPILE_ARGS) --output-file requirements.txt requirements.in

## bench: the benchmarks of bench/ (the real-data ones need ../shared/data); see docs/benchmarks.md
bench: $(VENV)/.installed
	$(PY) -m bench.cached_features
	$(PY) -m bench.serving
	$(PY) -m bench.dashboard
	$(PY) -m bench.predict_server
	$(PY) -m bench.load_test
	$(PY) -m bench.preload
	$(PY) -m bench.real_data heart --models custom_cnn,mobilenet_v2
	$(PY) -m bench.real_data throat --models custom_cnn,mobilenet_v2
	$(PY) -m bench.charts --seed 42
