# Fresh machine: `make demo` sets everything up and runs the demo; `make test` runs the tests.
.PHONY: setup demo test lint

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/campaign demo

test: setup
	.venv/bin/python -m pytest -q

lint:
	.venv/bin/ruff check agent tools prompts eval serve tests
	.venv/bin/mypy
	.venv/bin/lint-imports
