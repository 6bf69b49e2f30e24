VENV ?= .venv
HUILONG := $(VENV)/bin/huilong
PYTEST_ARGS ?=

.PHONY: setup test demo bench lint lab-up lab-down clean

setup:
	@bash scripts/setup.sh

test: setup
	@bash scripts/test.sh $(PYTEST_ARGS)

demo: setup
	@$(HUILONG) lab up
	@$(HUILONG) demo; status=$$?; $(HUILONG) lab down; exit $$status

bench: setup
	@$(VENV)/bin/python -m tests.bench

lint: setup
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/mypy engine/call engine/compliance engine/segmentation engine/agents engine/dashboard engine/retry.py predictive stt ari_apps

lab-up: setup
	@$(HUILONG) lab up

lab-down:
	@$(HUILONG) lab down

clean: lab-down
	rm -rf .state
