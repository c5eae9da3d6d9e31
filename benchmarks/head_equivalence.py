"""Refactoring check: train each head/encoder pair 40 steps with a fixed seed and dump the losses,
the predictions (with scores), the scores and a checksum of each file the pipeline saves, so two
commits can be compared:

    python benchmarks/head_equivalence.py before.json   # on the old commit
    python benchmarks/head_equivalence.py after.json    # on the new one, then diff the two files

The ``-head-lr`` runs train the head at 4 times the optimizer's rate (``head_learn_rate_scale``),
the path of ``TripleExtractor.finish_update`` that treats the two refs apart.
"""
import hashlib
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import spacy
import torch

torch.set_num_threads(1)
from tests.util import TRAIN_DATA, make_examples
from tests.util import typed_examples as _typed_examples
from tests.util import CNN, DGCNN, GP, POINTER

RUNS = [
    ("gp-cnn", GP, CNN, make_examples, {}),
    ("gp-dgcnn-typed", GP, DGCNN, _typed_examples, {}),
    ("pointer-cnn", POINTER, CNN, make_examples, {}),
    ("pointer-dgcnn-typed", POINTER, DGCNN, _typed_examples, {"threshold": 0.3}),
    ("gp-cnn-head-lr", GP, CNN, make_examples, {"head_learn_rate_scale": 4.0}),
    ("pointer-cnn-head-lr", POINTER, CNN, make_examples, {"head_learn_rate_scale": 4.0}),
]


def saved_files(nlp) -> dict:
    """SHA-256 of each file of the component's folder in ``nlp.to_disk``."""
    with tempfile.TemporaryDirectory() as tmp:
        nlp.to_disk(tmp)
        folder = Path(tmp) / "triple_extractor"
        return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(folder.rglob("*")) if p.is_file()}


def main(output: str) -> None:
    out = {}
    texts = [" ".join(w) for w, _ in TRAIN_DATA] + ["Barack Obama was born in Honolulu . " * 30]
    for name, head, tok2vec, ex_fn, cfg in RUNS:
        nlp = spacy.blank("en")
        nlp.add_pipe("triple_extractor", config={"model": {"@architectures": head, "tok2vec": tok2vec}, **cfg})
        examples = ex_fn(nlp)
        spacy.util.fix_random_seed(0)
        opt = nlp.initialize(lambda: examples)
        losses = []
        for _ in range(40):
            step = {}
            nlp.update(examples, sgd=opt, drop=0.1, losses=step)
            losses.append(round(step["triple_extractor"], 5))
        preds = [[t.to_dict() for t in d._.triples] for d in nlp.pipe(texts)]
        for p in preds:
            for t in p:
                t["score"] = round(t["score"], 5)
        sc = nlp.evaluate(examples)
        out[name] = {"losses": losses, "preds": preds, "saved": saved_files(nlp),
                     "scores": {k: round(v, 5) for k, v in sc.items() if isinstance(v, float) and k != "speed"}}
        print(name, losses[-1], sc["triples_f"], sum(len(p) for p in preds), flush=True)
    with open(output, "w", encoding="utf8") as handle:
        json.dump(out, handle, indent=0, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1])
