# cvm — the README's two commands are `make demo` and `make test`.
# Every target creates and reuses .venv in the repo root; nothing is installed globally
# except the Debian packages the browser and Spark tests need (scripts/system-deps.sh).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
WORKSPACE ?= demo-workspace

.PHONY: install test-install demo test bench bench-quick clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -e ".[all]"
	touch $@

test-install: $(VENV)/.test-installed

$(VENV)/.test-installed: $(VENV)/.installed
	$(PIP) install -e ".[all,test]"
	bash scripts/system-deps.sh
	touch $@

demo: install
	$(VENV)/bin/cvm demo --workspace $(WORKSPACE)

test: test-install
	$(PY) -m pytest -q

# `cvm run` as a whole process against lifetimes first (1 M customers, Parquet and CSV; 10 M alone), then the
# engine rows; the table lands in bench-results/table.md. BENCH_ARGS="--only commands" runs one suite.
bench: test-install
	$(PY) benchmarks/run.py $(BENCH_ARGS)

bench-quick: test-install
	$(PY) benchmarks/run.py --quick $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(WORKSPACE) .pytest_cache test-artifacts
