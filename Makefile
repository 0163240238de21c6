# The two commands a newcomer runs: `make demo` and `make test`. Both go through `make setup`,
# which is idempotent: apt packages that are missing, then a virtualenv at .venv/.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# pcscd + the vpcd virtual-reader driver: the real PC/SC stack our virtual card plugs into.
# swig + libpcsclite-dev build pyscard; python3-venv/-dev build the virtualenv.
# postgresql: the same storage tests run on SQLite and on a real PostgreSQL.
# fonts-dejavu-core: Vietnamese glyphs for the PDFs; poppler-utils: tests read the PDFs back.
# python3-tk: the desktop app; xvfb + xdotool: the GUI tests run the real window and type into it.
APT_PACKAGES := pcscd vsmartcard-vpcd swig libpcsclite-dev python3-venv python3-dev \
                build-essential pkg-config postgresql fonts-dejavu-core poppler-utils \
                python3-tk xvfb xdotool

.PHONY: setup apt venv pcscd postgres demo demo-cli test lint bench clean

setup: apt venv

apt:
	@missing=$$(for p in $(APT_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing apt packages:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

venv: $(VENV)/.stamp-setup

$(VENV)/.stamp-setup: pyproject.toml
	@[ -x $(PY) ] || python3 -m venv $(VENV)
	# A current setuptools (no pkg_resources since 82): our code must not rely on it.
	$(PY) -m pip install -q --upgrade pip setuptools
	$(PY) -m pip install -q -e '.[dev,postgres]'
	# The baseline we compare against; its metadata asks for dlib from source, hence --no-deps.
	$(PY) -m pip install -q --no-deps face_recognition==1.3.0
	@touch $@

pcscd: apt
	@scripts/start-pcscd

postgres: apt
	@scripts/start-postgres >/dev/null

# The desktop app in demo mode (virtual cards, a camera playing real photos).
demo: setup
	@scripts/demo-app

# The same chain without a window: read a genuine and a forged virtual card, show the verdicts.
demo-cli: setup pcscd
	@scripts/demo

test: setup pcscd postgres
	$(VENV)/bin/pytest

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# Every benchmark in bench/, quick: each ends with one JSON line (metric, unit, ours, baseline,
# ratio). All of them run, then the failed ones are named. face_population and proxy_search
# share a cache of face encodings in the temporary directory: the first run fills it (minutes).
BENCHES := $(sort $(wildcard bench/*.py))

bench: setup pcscd postgres
	@failed=; for b in $(BENCHES); do echo "== $$b"; $(PY) $$b --quick || failed="$$failed $$b"; \
	done; if [ -n "$$failed" ]; then echo "failed:$$failed"; exit 1; fi

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis *.egg-info
