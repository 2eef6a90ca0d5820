# Plain entry points; everything runs inside .venv, built from the lock file.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DB ?= barwatch.db

.PHONY: setup crawl test lint demo serve screenshots lock clean

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

setup: $(VENV)/.installed

crawl: setup        ## incremental crawl of the live site into $(DB)
	$(BIN)/barwatch crawl --db $(DB)

test: setup         ## the whole test suite
	$(BIN)/python -m pytest -q

lint: setup         ## ruff (rules and formatting) and mypy, as configured in pyproject.toml
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

demo: setup         ## fixture site on 127.0.0.1 -> baseline crawl, site changes, second crawl -> what changed
	$(BIN)/barwatch demo --dir demo

screenshots: setup  ## the README's pictures, from a fresh demo archive in chromium (needs fonts-noto-cjk)
	$(BIN)/python scripts/screenshots.py --out docs/screenshots

serve: setup
	$(BIN)/barwatch serve --db $(DB)

lock:               ## re-resolve the pinned versions after changing pyproject.toml
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^barwatch' > requirements.lock

clean:
	rm -rf $(VENV) demo .pytest_cache
