# Everything runs from .venv, created and filled from pyproject.toml on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_STAMP := $(VENV)/.demo-stamp
CORPUS ?= ../shared/corpus
OUT := out

# SAM CLI and checkov pin their own boto3: each lives in its own venv under .venv/tools.
TOOLS := $(VENV)/tools
SAM := $(TOOLS)/sam/bin/sam
CHECKOV := $(TOOLS)/checkov/bin/checkov
export SAM_CLI_TELEMETRY := 0

.PHONY: venv test check lint docs demo fuzz bench clean sam-build build-MimeopsFunction sam-local

# pip's own notices (e.g. a machine's pip.conf naming index folders that do not exist) are
# not the user's business here: -qq keeps errors, and the build backend prints no warning.
PIP_INSTALL := $(BIN)/python -m pip install -qq

$(VENV)/bin/python:
	@$(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "mimeops needs Python 3.11+ (set PY=python3.11)")'
	$(PY) -m venv $(VENV)
	$(PIP_INSTALL) --upgrade pip

# The whole toolchain (tests, lint, browsers' driver, stubs): `make test`, `make check`.
$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PIP_INSTALL) -e '.[dev]'
	@touch $(STAMP)

# What `make demo` needs and no more: the handler and the local emulator (`.[local]`).
$(DEMO_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PIP_INSTALL) -e '.[local]'
	@touch $(DEMO_STAMP)

venv: $(STAMP)

$(SAM):
	$(PY) -m venv $(TOOLS)/sam
	$(TOOLS)/sam/bin/python -m pip install -qq 'aws-sam-cli>=1.120,<2'

$(CHECKOV):
	$(PY) -m venv $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/python -m pip install -qq 'checkov>=3.2,<4'

lint: venv $(SAM) $(CHECKOV)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/cfn-lint template.yaml
	$(SAM) validate --lint
	BC_SKIP_MAPPING=TRUE $(CHECKOV) -f template.yaml --framework cloudformation --skip-download --quiet --compact
	@$(MAKE) --no-print-directory docs

# The documentation site (docs/, mkdocs.yml): strict, so a broken link or anchor fails.
docs: venv
	$(BIN)/mkdocs build --strict --site-dir $(OUT)/site

# FLOW=path/to/flow.yaml packages your flow (see build-MimeopsFunction below).
sam-build: venv $(SAM)
	MIMEOPS_FLOW="$(if $(FLOW),$(abspath $(FLOW)))" $(SAM) build

# `sam build` runs this (template.yaml: Metadata BuildMethod makefile) with ARTIFACTS_DIR set:
# the two packages, the example flows, the flow named by FLOW and the runtime wheels for
# python3.13 on LAMBDA_ARCH (arm64, the template's default Architecture; `make sam-local`
# sets this machine's).
LAMBDA_PIP := $(if $(wildcard $(BIN)/python),$(BIN)/python,$(PY)) -m pip
LAMBDA_ARCH ?= arm64
LAMBDA_MACHINE := $(if $(filter arm64,$(LAMBDA_ARCH)),aarch64,$(if $(filter x86_64,$(LAMBDA_ARCH)),x86_64,$(error LAMBDA_ARCH must be arm64 or x86_64, not '$(LAMBDA_ARCH)')))
LAMBDA_PLATFORMS := $(addsuffix _$(LAMBDA_MACHINE),manylinux2014 manylinux_2_28 manylinux_2_34)
# The runtime's Python, to ship bytecode: /var/task is read-only, so without it
# every cold start compiles the package again (~120 ms measured in bench/).
PY313 := $(shell for p in python3.13 $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13); \
	do $$p -c pass >/dev/null 2>&1 && echo $$p && break; done)
# Your flow file, from wherever it lives (`make sam-build FLOW=../acme/flow.yaml`, or
# MIMEOPS_FLOW in the environment of a plain `sam build`): checked, then packaged as
# flow.yaml (deploy with FlowConfig=flow.yaml). A missing or invalid file stops the build.
FLOW ?= $(MIMEOPS_FLOW)

# Plugins (docs/extending.md): requirement lines in requirements-plugins.txt (or the file
# PLUGINS names): a PyPI name, a path inside the project, a git URL. Each is built into a
# wheel here, with mimeops' own wheel (which the plugins' "mimeops" dependency is then),
# and installed with the runtime wheels, so their dependencies come as CPython 3.13 wheels
# for LAMBDA_ARCH too. The installed metadata (entry points) is how the handler finds them.
PLUGINS ?= $(wildcard requirements-plugins.txt)

build-MimeopsFunction: package-flow
	set -e; wheels="$$(mktemp -d)"; trap 'rm -rf "$$wheels"' EXIT; \
	$(if $(PLUGINS),$(LAMBDA_PIP) wheel --quiet --disable-pip-version-check --no-deps \
		--wheel-dir "$$wheels" . -r "$(PLUGINS)";) \
	$(LAMBDA_PIP) install --quiet --disable-pip-version-check --no-compile \
		--target "$(ARTIFACTS_DIR)" --implementation cp --python-version 3.13 \
		$(addprefix --platform ,$(LAMBDA_PLATFORMS)) --only-binary=:all: \
		-r requirements.txt $(if $(PLUGINS),--find-links "$$wheels" "$$wheels"/*.whl)
	rm -rf "$(ARTIFACTS_DIR)/mimeops_emulator" "$(ARTIFACTS_DIR)/mimeops_smtp"
	cp -R mimeops mimeops_workmail handlers "$(ARTIFACTS_DIR)/"
	mkdir -p "$(ARTIFACTS_DIR)/examples"
	cp -R examples/flows "$(ARTIFACTS_DIR)/examples/"
	rm -rf "$(ARTIFACTS_DIR)/bin"
	find "$(ARTIFACTS_DIR)" -name __pycache__ -type d -prune -exec rm -rf {} +
	$(if $(PY313),$(PY313) -m compileall -q --invalidation-mode unchecked-hash "$(ARTIFACTS_DIR)",\
		@echo "no python3.13 here: the artifact ships without bytecode")

.PHONY: package-flow
package-flow:
	@test -n "$(ARTIFACTS_DIR)" || { echo "package-flow: ARTIFACTS_DIR is not set (sam build sets it)" >&2; exit 2; }
	@mkdir -p "$(ARTIFACTS_DIR)"
	@rm -f "$(ARTIFACTS_DIR)/flow.yaml"
ifeq ($(strip $(FLOW)),)
	@echo "no FLOW given: no flow.yaml packaged (FlowConfig must then be ssm:/..., inline, or examples/flows/NAME.yaml)"
else
	@test -f "$(FLOW)" || { echo "FLOW=$(FLOW): no such file (give the path of your flow file)" >&2; exit 2; }
	@test -x "$(BIN)/mimeops" || { echo "FLOW=$(FLOW): checking it needs .venv: run make venv first" >&2; exit 2; }
	$(BIN)/mimeops validate "$(FLOW)" || { $(if $(PLUGINS),echo "FLOW=$(FLOW): the flow is checked with .venv: install the plugins it names there too (.venv/bin/pip install -r $(PLUGINS))" >&2;) exit 2; }
	cp "$(FLOW)" "$(ARTIFACTS_DIR)/flow.yaml"
	@echo "packaged $(FLOW) as flow.yaml: deploy with FlowConfig=flow.yaml"
endif

# sam build + sam local invoke (Docker) against `mimeops serve`, for this machine's
# architecture (SAM_LOCAL_ARCH=arm64 needs qemu); exit 2 at once without a Docker engine.
# (make's own $(error): the one line, exit 2, and no second "Error 2" line.)
SAM_LOCAL_ARCH ?= $(if $(filter aarch64 arm64,$(shell uname -m)),arm64,x86_64)
SAM_LOCAL_NO_ENGINE = $(shell $(BIN)/python -m mimeops_emulator.sam_local --check-engine 2>&1)
sam-local: venv
	$(if $(SAM_LOCAL_NO_ENGINE),$(error $(SAM_LOCAL_NO_ENGINE)))
	@$(MAKE) --no-print-directory $(SAM)
	$(BIN)/python -m mimeops_emulator.sam_local --sam $(SAM) --arch $(SAM_LOCAL_ARCH) \
		--event events/inbound-external.json --message events/messages/external.eml

# Everything: what CI (.ci/run) runs.
test: lint sam-build
	MIMEOPS_CORPUS=$(CORPUS) $(BIN)/pytest

# The edit-test loop: lint and the tests that need no browser, Postfix, Dovecot or Docker
# and are not slow (pytest markers, pyproject.toml), in CHECK_WORKERS processes (pytest-xdist);
# under 3 minutes on 2 cores.
FAST_TESTS := not browser and not postfix and not dovecot and not docker and not slow
CHECK_WORKERS ?= 2
check: lint
	MIMEOPS_CORPUS=$(CORPUS) $(BIN)/pytest -n $(CHECK_WORKERS) -m "$(FAST_TESTS)"

# The rendering suites alone (docs/rendering.md): the warning as Chromium, Firefox ESR,
# WebKitGTK and Thunderbird show it (part of `make test`; ~5 min on a shared 2-core machine).
.PHONY: render
render: venv
	MIMEOPS_CORPUS=$(CORPUS) $(BIN)/pytest -m browser

# Long property-based run of the MIME engine (the quick one is part of `make test`).
fuzz: venv
	MIMEOPS_FUZZ_EXAMPLES=20000 $(BIN)/pytest tests/test_properties.py -q

bench: venv
	$(BIN)/python -m bench
	$(BIN)/python -m bench.directory
	$(BIN)/python -m bench.preview

# Messages per second through a throw-away Postfix, with and without `mimeops smtp-filter`
# (needs root and Debian's postfix; loopback only).
.PHONY: bench-smtp
bench-smtp: venv
	$(BIN)/python -m bench.smtp

# The real Lambda handler on each sample event, against the embedded emulator. It installs
# only the `local` extra, unless the full toolchain is there already.
demo: $(if $(wildcard $(STAMP)),$(STAMP),$(DEMO_STAMP))
	@mkdir -p $(OUT)
	$(BIN)/mimeops invoke events/inbound-external.json --message events/messages/external.eml \
		--config examples/flows/demo.yaml -o $(OUT)/inbound-external.eml
	$(BIN)/mimeops invoke events/inbound-internal.json --message events/messages/internal.eml \
		--config examples/flows/demo.yaml -o $(OUT)/inbound-internal.eml
	$(BIN)/mimeops invoke events/outbound.json --message events/messages/outbound.eml \
		--config examples/flows/demo.yaml -o $(OUT)/outbound.eml

clean:
	rm -rf $(VENV) $(OUT) .aws-sam .pytest_cache .mypy_cache .ruff_cache
