"""Refactoring check: train each head/encoder pair 40 steps with a fixed seed and dump the losses,
the predictions (with scores) and the scores, so two commits can be compared:

    python benchmarks/head_equivalence.py before.json   # on the old commit
    python benchmarks/head_equivalence.py after.json    # on the new one, then diff the two files
"""
import json, sys
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
import spacy
import torch
torch.set_num_threads(1)
from tests.util import TRAIN_DATA, make_examples
from tests.test_typed import _typed_examples
from tests.test_pointer import CNN, DGCNN, GP, POINTER

out = {}
texts = [" ".join(w) for w, _ in TRAIN_DATA] + ["Barack Obama was born in Honolulu . " * 30]
for name, head, tok2vec, ex_fn, cfg in [
    ("gp-cnn", GP, CNN, make_examples, {}),
    ("gp-dgcnn-typed", GP, DGCNN, _typed_examples, {}),
    ("pointer-cnn", POINTER, CNN, make_examples, {}),
    ("pointer-dgcnn-typed", POINTER, DGCNN, _typed_examples, {"threshold": 0.3}),
]:
    nlp = spacy.blank("en")
    nlp.add_pipe("triple_extractor", config={"model": {"@architectures": head, "tok2vec": tok2vec}, **cfg})
    examples = ex_fn(nlp)
    spacy.util.fix_random_seed(0)
    opt = nlp.initialize(lambda: examples)
    losses = []
    for i in range(40):
        l = {}
        nlp.update(examples, sgd=opt, drop=0.1, losses=l)
        losses.append(round(l["triple_extractor"], 5))
    preds = [[t.to_dict() for t in d._.triples] for d in nlp.pipe(texts)]
    for p in preds:
        for t in p:
            t["score"] = round(t["score"], 5)
    sc = nlp.evaluate(examples)
    out[name] = {"losses": losses, "preds": preds, "scores": {k: round(v, 5) for k, v in sc.items() if isinstance(v, float)}}
    print(name, losses[-1], sc["triples_f"], sum(len(p) for p in preds))
json.dump(out, open(sys.argv[1], "w"), indent=0, sort_keys=True)
