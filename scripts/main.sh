#!/usr/bin/env bash
# The main job: install into .venv, convert the bundled sample, build static vectors from the
# MiniLM package, train a small CPU model (configs/cnn_vectors.cfg), score it on the sample's dev
# part, and extract triples from example sentences it never saw. Usage: bash scripts/main.sh
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS="${STEPS:-1500}"
bash scripts/install.sh
PY=.venv/bin/python
$PY -m spacy_triples convert data/sample/train.json corpus/train.spacy
$PY -m spacy_triples convert data/sample/dev.json corpus/dev.spacy
$PY -m spacy_triples init-vectors corpus/vectors
$PY -m spacy train configs/cnn_vectors.cfg --paths.train corpus/train.spacy --paths.dev corpus/dev.spacy \
    --paths.vectors corpus/vectors --output training/cnn --training.max_steps "$STEPS"
$PY -m spacy_triples evaluate training/cnn/model-best corpus/dev.spacy
$PY -m spacy_triples extract training/cnn/model-best data/sample/examples.txt output/examples.jsonl --show --quiet
echo "Triples written to output/examples.jsonl"
