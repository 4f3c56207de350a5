# Everything runs from .venv, created and filled from pyproject.toml on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CORPUS ?= ../shared/corpus
OUT := out

.PHONY: venv test lint typecheck demo fuzz bench clean

$(STAMP): pyproject.toml
	@$(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "mimeops needs Python 3.11+ (set PY=python3.11)")'
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

lint: venv
	$(BIN)/ruff check mimeops handlers workmail_emulator tests bench
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml

test: lint
	MIMEOPS_CORPUS=$(CORPUS) $(BIN)/pytest

# Long property-based run of the MIME engine (the quick one is part of `make test`).
fuzz: venv
	MIMEOPS_FUZZ_EXAMPLES=20000 $(BIN)/pytest tests/test_properties.py -q

bench: venv
	$(BIN)/python -m bench

# The real Lambda handler on each sample event, against the embedded emulator.
demo: venv
	@mkdir -p $(OUT)
	$(BIN)/mimeops invoke events/inbound-external.json --message events/messages/external.eml \
		--config examples/flows/demo.yaml -o $(OUT)/inbound-external.eml
	$(BIN)/mimeops invoke events/inbound-internal.json --message events/messages/internal.eml \
		--config examples/flows/demo.yaml -o $(OUT)/inbound-internal.eml
	$(BIN)/mimeops invoke events/outbound.json --message events/messages/outbound.eml \
		--config examples/flows/demo.yaml -o $(OUT)/outbound.eml

clean:
	rm -rf $(VENV) $(OUT) .aws-sam .pytest_cache .mypy_cache .ruff_cache
