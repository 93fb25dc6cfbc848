# The few verbs people type. `make help` lists them.
.DEFAULT_GOAL := help
RAG := HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/rag

help: ## List the verbs
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

setup: ## Install everything (.venv, CPU torch, model, index); quick when nothing changed
	scripts/setup.sh

run: setup ## Set up, then serve the API and chat UI (prints the address)
	$(RAG) serve

test: ## Set up from nothing and run the whole test suite (what CI runs)
	scripts/test.sh

eval: setup ## Evaluate retrieval and answers on the question set
	$(RAG) eval

bench: setup ## Benchmark build, load, latency and memory
	HF_HUB_OFFLINE=1 .venv/bin/python -m bench.engine

lint: ## Lint, format check and type check
	.venv/bin/ruff check rag ui tests bench && .venv/bin/ruff format --check rag ui tests bench && .venv/bin/mypy

.PHONY: help setup run test eval bench lint
