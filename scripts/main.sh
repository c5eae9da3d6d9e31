#!/usr/bin/env bash
# The main job: install into .venv, convert the bundled sample, train a small CPU model, and
# extract triples from example sentences it never saw. Usage: bash scripts/main.sh
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS="${STEPS:-1500}"
bash scripts/install.sh
PY=.venv/bin/python
$PY -m spacy_triples convert data/sample/train.json corpus/train.spacy
$PY -m spacy_triples convert data/sample/dev.json corpus/dev.spacy
$PY -m spacy train configs/cnn.cfg --paths.train corpus/train.spacy --paths.dev corpus/dev.spacy \
    --output training/cnn --training.max_steps "$STEPS"
$PY -m spacy_triples extract training/cnn/model-best data/sample/examples.txt output/examples.jsonl --show
echo "Triples written to output/examples.jsonl"
