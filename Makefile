# Two commands for a newcomer: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export MUJOCO_GL ?= egl
export PYOPENGL_PLATFORM ?= egl
export XLA_FLAGS ?= --xla_force_host_platform_device_count=1

.PHONY: demo test bench check-system clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 (e.g. 'apt-get install python3.11 python3.11-venv')" >&2; exit 2; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

check-system:
	@bash .ci/check-system

demo: $(STAMP) check-system
	$(VENV)/bin/pianohands demo --out runs/demo

test: $(STAMP) check-system
	$(VENV)/bin/lint-imports
	$(PY) -m pytest --nbmake tests notebooks $(PYTEST_ARGS)

bench: $(STAMP)
	for b in benchmarks/*.py; do $(PY) $$b || exit $$?; done

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis
