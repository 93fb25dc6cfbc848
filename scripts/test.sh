#!/usr/bin/env bash
# The whole test suite from nothing: set-up, Chromium, lint, types, unit and integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/install-chromium.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/ruff check rag ui tests bench
.venv/bin/ruff format --check rag ui tests bench
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
