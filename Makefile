# tattletail: `make demo` runs the example, `make test` runs every test, `make` builds the Lambda zip.
# Every target installs what it needs into .venv first: `demo` and `zip` only what running needs (the
# package and its runtime dependencies); `test`, `lint`, `bench` and `sigma` add the test and lint
# toolchain (the `test` extra, and the jq command-line tool, used by the comparison tests and the
# benchmark, from Debian when missing).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed

# The Lambda runtime the zip is built for (its compiled wheels must match it, not this machine).
LAMBDA_PYTHON ?= 3.13
LAMBDA_ARCH ?= x86_64
DIST ?= dist
ZIP := $(DIST)/tattletail.zip
BUILD := build/lambda-$(LAMBDA_PYTHON)-$(LAMBDA_ARCH)
PLATFORM_x86_64 := --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64
PLATFORM_arm64 := --platform manylinux_2_28_aarch64 --platform manylinux2014_aarch64
# The runtime's own Python compiles the zip's bytecode (/var/task is read-only: without .pyc every cold
# start compiles every module). Found on PATH or in pyenv; when absent the zip ships without bytecode.
TARGET_PYTHON ?= $(firstword $(foreach p,python$(LAMBDA_PYTHON) $(wildcard $(HOME)/.pyenv/versions/$(LAMBDA_PYTHON)*/bin/python$(LAMBDA_PYTHON)),$(shell $(p) -c 'import sys; print(sys.executable)' 2>/dev/null)))
# Provided by the Lambda runtime (botocore's HTTP stack), so not shipped
RUNTIME_PROVIDED := urllib3

FUNCTION_NAME ?=
CONF_S3_BUCKET ?=
CONF_S3_PATH ?= tattletail.toml

# make deploy: the CloudFormation stack (template.yaml), with the role derived from tattletail.toml
STACK_NAME ?=
TRAIL_BUCKET ?=
TRAIL_PREFIX ?= AWSLogs/
ARTIFACT_BUCKET ?=
DEPLOY_PARAMS ?=
DEPLOY_TEMPLATE := template.deploy.yaml

SIGMA_RULES ?= ../shared/sigma/aws-cloudtrail

.PHONY: all setup demo test lint bench fuzz zip upload upload_config deploy sigma clean

all: zip

setup: $(STAMP)

# What running needs: the package and its runtime dependencies, nothing else
$(RUN_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e .
	touch $@

# What testing needs on top: the test extra (moto, cfn-lint, pysigma, duckdb, pytest, ruff, mypy...)
$(STAMP): $(RUN_STAMP)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	@command -v jq >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && apt-get install -y -qq jq >/dev/null) ; } || \
	  echo "note: jq command-line tool not installed; tests comparing with it will be skipped"
	touch $@

demo: $(RUN_STAMP)
	$(VENV)/bin/tattletail check tattletail.toml
	$(VENV)/bin/tattletail run --config tattletail.toml examples/cloudtrail-example.json

# The whole check: lint and types first (seconds), then every test.
test: lint
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check tattletail tests bench
	$(PY) -m mypy tattletail

# Refresh rules/sigma-aws-cloudtrail.toml from the Sigma rules (needs the sigma extra, installed by setup)
sigma: $(STAMP)
	$(VENV)/bin/tattletail import sigma $(SIGMA_RULES) --overrides sigma-overrides.toml -o rules/sigma-aws-cloudtrail.toml
	$(VENV)/bin/tattletail test rules/sigma-aws-cloudtrail.toml

bench: $(STAMP)
	$(PY) bench/run.py

# Random exploration (the suite runs the same fuzzer and property tests with fixed seeds):
# differential fuzzing of the compiled jq path against libjq, then the property tests unseeded.
FUZZ_SECONDS ?= 300
fuzz: $(STAMP)
	$(PY) -m tests.jq_fuzz --seconds $(FUZZ_SECONDS)
	HYPOTHESIS_PROFILE=explore $(PY) -m pytest -q tests/jq/test_compile.py -k property_based

zip: $(ZIP)

$(ZIP): $(RUN_STAMP) pyproject.toml $(shell find tattletail -name '*.py') $(wildcard tattletail.toml) $(wildcard rules/*)
	rm -rf $(BUILD) build/wheel && mkdir -p $(BUILD) $(DIST)
	$(PY) -m pip wheel -q --no-deps -w build/wheel .
	$(PY) -m pip install -q --target $(BUILD) --no-compile --only-binary=:all: \
	  --implementation cp --python-version $(LAMBDA_PYTHON) $(PLATFORM_$(LAMBDA_ARCH)) \
	  build/wheel/tattletail-*.whl
	rm -rf $(BUILD)/bin $(foreach p,$(RUNTIME_PROVIDED),$(BUILD)/$(p) $(BUILD)/$(p)-*.dist-info)
	@if [ -n "$(TARGET_PYTHON)" ]; then \
	  $(TARGET_PYTHON) -m compileall -q -j0 --invalidation-mode unchecked-hash $(BUILD) >/dev/null && \
	  echo "bytecode compiled by $(TARGET_PYTHON)"; \
	else echo "note: python$(LAMBDA_PYTHON) not found: the zip ships no bytecode (every cold start compiles)"; fi
	if [ -f tattletail.toml ]; then cp tattletail.toml $(BUILD)/; fi
	cp -r rules $(BUILD)/rules
	rm -f $@ && cd $(BUILD) && $(abspath $(PY)) -m zipfile -c $(abspath $@) $$(ls -A)
	@echo "built $@ for Python $(LAMBDA_PYTHON) $(LAMBDA_ARCH): $$(du -h $@ | cut -f1)"

upload: $(ZIP)
	@test -n "$(FUNCTION_NAME)" || { echo "usage: make upload FUNCTION_NAME=..."; exit 2; }
	aws lambda update-function-code --function-name "$(FUNCTION_NAME)" --zip-file fileb://$(ZIP)

upload_config: $(STAMP)
	@test -n "$(CONF_S3_BUCKET)" || { echo "usage: make upload_config CONF_S3_BUCKET=... [CONF_S3_PATH=...]"; exit 2; }
	$(VENV)/bin/tattletail check tattletail.toml
	aws s3 cp tattletail.toml "s3://$(CONF_S3_BUCKET)/$(CONF_S3_PATH)"

deploy: $(ZIP)
	@test -n "$(STACK_NAME)" -a -n "$(TRAIL_BUCKET)" || { echo "usage: make deploy STACK_NAME=... \
	  TRAIL_BUCKET=... [TRAIL_PREFIX=AWSLogs/] [ARTIFACT_BUCKET=...] [DEPLOY_PARAMS='Front=sqs EnableEventBridge=true']"; exit 2; }
	$(VENV)/bin/tattletail check tattletail.toml
	$(VENV)/bin/tattletail template --config tattletail.toml --template template.yaml -o $(DEPLOY_TEMPLATE)
	bucket="$(ARTIFACT_BUCKET)"; \
	if [ -z "$$bucket" ]; then \
	  account=$$(aws sts get-caller-identity --query Account --output text) || exit 1; \
	  region=$$(aws configure get region || echo "$$AWS_REGION"); \
	  bucket="tattletail-artifacts-$$account-$$region"; \
	  aws s3api head-bucket --bucket "$$bucket" 2>/dev/null || aws s3 mb "s3://$$bucket" || exit 1; \
	fi; \
	aws cloudformation package --template-file $(DEPLOY_TEMPLATE) --s3-bucket "$$bucket" --s3-prefix tattletail \
	  --output-template-file build/packaged.yaml && \
	aws cloudformation deploy --template-file build/packaged.yaml --stack-name "$(STACK_NAME)" \
	  --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset \
	  --parameter-overrides TrailBucket=$(TRAIL_BUCKET) TrailPrefix=$(TRAIL_PREFIX) \
	    Runtime=python$(LAMBDA_PYTHON) Architecture=$(LAMBDA_ARCH) $(DEPLOY_PARAMS)
	aws cloudformation describe-stacks --stack-name "$(STACK_NAME)" --query "Stacks[0].Outputs" --output table

clean:
	rm -rf build $(DIST) $(DEPLOY_TEMPLATE)
