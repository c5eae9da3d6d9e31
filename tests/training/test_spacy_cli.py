"""spaCy's own CLI with no --code: init labels, train, evaluate (entry points do the work)."""
import json
import subprocess
import sys

import pytest
import spacy
from spacy.tokens import DocBin

from ..util import ROOT, make_examples

CONFIG = ROOT / "configs" / "cnn.cfg"


def _run(*args, cwd):
    result = subprocess.run([sys.executable, "-m", "spacy", *args], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.slow
def test_init_labels_train_and_evaluate(tmp_path):
    nlp = spacy.blank("en")
    db = DocBin(store_user_data=True, docs=[eg.reference for eg in make_examples(nlp)] * 4)
    db.to_disk(tmp_path / "train.spacy")
    overrides = ["--paths.train", "train.spacy", "--paths.dev", "train.spacy"]
    _run("init", "labels", str(CONFIG), "labels", *overrides, cwd=tmp_path)
    labels = json.loads((tmp_path / "labels" / "triple_extractor.json").read_text())
    assert labels == {"relations": ["born_in", "capital_of", "founded_by", "lives_in", "located_in", "works_for"],
                      "entity_types": []}
    _run("train", str(CONFIG), "--output", "out", *overrides, "--training.max_steps", "120",
         "--training.eval_frequency", "60", "--training.dropout", "0.0", cwd=tmp_path)
    meta = json.loads((tmp_path / "out" / "model-best" / "meta.json").read_text())
    assert meta["performance"]["triples_f"] > 0.5
    _run("evaluate", "out/model-best", "train.spacy", "--output", "scores.json", cwd=tmp_path)
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["triples_f"] == meta["performance"]["triples_f"]
    assert "born_in" in scores["triples_per_type"]


@pytest.mark.slow
@pytest.mark.parametrize("config", ["dgcnn.cfg", "pointer_dgcnn.cfg"])
def test_dgcnn_configs_train_with_spacy_train(tmp_path, config):
    nlp = spacy.blank("en")
    DocBin(store_user_data=True, docs=[eg.reference for eg in make_examples(nlp)] * 4).to_disk(tmp_path / "train.spacy")
    path = CONFIG.parent / config
    _run("train", str(path), "--output", "out", "--paths.train", "train.spacy", "--paths.dev", "train.spacy",
         "--components.tok2vec.model.embed.include_static_vectors", "false", "--training.max_steps", "200",
         "--training.eval_frequency", "100", "--training.dropout", "0.0", cwd=tmp_path)
    meta = json.loads((tmp_path / "out" / "model-best" / "meta.json").read_text())
    assert meta["performance"]["triples_f"] > 0.5
    loaded = spacy.load(tmp_path / "out" / "model-best")
    assert loaded.get_pipe("tok2vec").model.name == "dgcnn"
