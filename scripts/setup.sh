#!/usr/bin/env bash
# One idempotent set-up: a .venv with CPU torch and the project, the embedding model, the index.
# Quick when nothing changed: dependencies are reinstalled only when pyproject.toml changes,
# the model is only re-provisioned when its folder is invalid, the index only rebuilt when stale.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-}
if [ -z "$python" ]; then
  python=$(command -v python3.11 || command -v python3)
fi
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $python"
  "$python" -m venv .venv
fi

stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "setup: installing dependencies (CPU torch first, so nothing pulls a CUDA build)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q "torch==2.13.0" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
  .venv/bin/python -m pip install -q -e '.[dev]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi

# Everything runs offline: no model or tokenizer may come from a hub at run time.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/rag provision
.venv/bin/rag build
