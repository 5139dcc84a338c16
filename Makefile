# One command each on a fresh machine: `make report`, `make test`.
# Both create .venv (python3 -m venv + pip install -e ".[test,batch]", then the ptychodus extra
# with --no-deps from requirements/ptychodus.txt) when missing.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install report test test-unit test-notebooks check format clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements/ptychodus.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test,batch]"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements/ptychodus.txt
	touch $(STAMP)

# Evidence set for the embedded demo dataset, under artifacts/demo/ (replaced on each run).
report: install
	$(BIN)/ptyevidence report --force

# Formatting and lint (ruff), unit tests + doctests, then the notebooks under nbval.
test: install check test-unit test-notebooks

check: install
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/ruff check src tests benchmarks

test-unit: install
	$(BIN)/python -m pytest --doctest-modules src tests

# nbval re-runs the committed notebooks with their defaults (the demo dataset,
# simulated into a temporary folder) and compares the cells marked
# NBVAL_CHECK_OUTPUT; TMPDIR is a scratch folder removed afterwards.
test-notebooks: install
	@scratch=$$(mktemp -d); \
	TMPDIR=$$scratch $(BIN)/python -m pytest -p no:cacheprovider --nbval-lax --nbval-current-env \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout 600 notebooks/; \
	status=$$?; rm -rf "$$scratch"; exit $$status

format: install
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

clean:
	rm -rf $(VENV) .venv-torch .pytest_cache .ruff_cache build src/*.egg-info
