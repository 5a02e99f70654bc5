# cvm — the README's two commands are `make demo` and `make test`.
# Every target creates and reuses .venv in the repo root; nothing is installed globally
# except the Debian packages the browser and Spark tests need (scripts/system-deps.sh).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
WORKSPACE ?= demo-workspace

.PHONY: install test-install demo test bench clean

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

bench: test-install
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) $(WORKSPACE) .pytest_cache test-artifacts
