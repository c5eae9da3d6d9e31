"""Where a pipeline's triples are lost: entities, their pairing, or the relation (issue 40).

    python benchmarks/error_breakdown.py MODEL [--dataset webnlg] [--split test] [--test PATH] [--threads 2]
    python benchmarks/error_breakdown.py MODEL --split train --sample 703    # how well it fits its own data

Scores MODEL on one split at five levels, each a precision / recall / F1 over character spans:
the entities that take part in a triple (subject or object, role ignored), subjects, objects,
(subject, object) pairs with the relation ignored, and whole triples; and, of the predicted triples
whose pair is a gold pair, the share with a gold relation. The drop from one level to the next is
what that step loses. Wrong predicted pairs are split into those of two gold entities (pairing
errors) and those with a wrong entity; missed gold pairs into those whose two entities were both
predicted (in other pairs) and those with an entity not found; entity errors into boundary errors
(a predicted span overlaps the missed gold one, or the reverse) and the rest. Whole triples are
also scored by the number of gold triples in a doc (1, 2, ..., "6+"), with the docs of each count
where nothing at all was predicted. Each level is
scored twice: on the docs spaCy's ``Corpus`` makes of the corpus file (the dataset's own tokens
where its spaces are unknown, else the pipeline's tokenizer) and on ``nlp.pipe`` of the plain
texts (what a user gets). ``--split train`` scores a seeded sample of the training file (``--sample``
docs, the test set's size by default): the same levels on what the model was trained on, so the gap
to the test split shows whether it fails to fit or to generalise. Appends to
benchmarks/results/error_breakdown.json.
"""
import argparse
import json
import random
import sys
from pathlib import Path
from typing import Dict, Iterable, Optional, Set, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

Key = Tuple[int, int, str, int, int]
LEVELS = {
    "subjects": lambda k: (k[0], k[1]),
    "objects": lambda k: (k[3], k[4]),
    "pairs": lambda k: (k[0], k[1], k[3], k[4]),
    "triples": lambda k: k,
}


def prf(tp: int, n_pred: int, n_gold: int) -> Dict[str, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return {"p": round(100 * p, 2), "r": round(100 * r, 2), "f": round(100 * 2 * p * r / (p + r), 2) if p + r else 0.0}


def breakdown(pairs: Iterable[Tuple[Set[Key], Set[Key]]]) -> Dict[str, dict]:
    """Per-level scores over (gold keys, predicted keys) of each doc; keys as ``scorer.triple_keys``."""
    counts = {name: [0, 0, 0] for name in ["entities", *LEVELS]}
    on_gold_pairs = relation_right = 0
    wrong_pairs = {"of_gold_entities": 0, "with_a_wrong_entity": 0}
    missed_pairs = {"entities_both_predicted": 0, "an_entity_missed": 0}
    entity_errors = {"missed_overlapping_a_predicted_span": 0, "missed_nothing_predicted_there": 0,
                     "wrong_overlapping_a_gold_span": 0, "wrong_no_gold_span_there": 0}

    by_count: Dict[str, list] = {}  # gold triples in a doc -> [tp, predicted, gold, docs, docs with nothing predicted]

    def tally(name: str, g: set, p: set) -> None:
        counts[name] = [counts[name][0] + len(g & p), counts[name][1] + len(p), counts[name][2] + len(g)]

    for gold, pred in pairs:
        row = by_count.setdefault(str(len(gold)) if len(gold) < 6 else "6+", [0, 0, 0, 0, 0])
        for i, n in enumerate((len(gold & pred), len(pred), len(gold), 1, int(not pred))):
            row[i] += n
        for name, key in LEVELS.items():
            tally(name, {key(k) for k in gold}, {key(k) for k in pred})
        g = {LEVELS["subjects"](k) for k in gold} | {LEVELS["objects"](k) for k in gold}
        p = {LEVELS["subjects"](k) for k in pred} | {LEVELS["objects"](k) for k in pred}
        tally("entities", g, p)
        for span in g - p:  # a missed entity: a boundary error (a predicted span overlaps it) or none
            overlaps = any(q[0] < span[1] and span[0] < q[1] for q in p)
            entity_errors["missed_overlapping_a_predicted_span" if overlaps else "missed_nothing_predicted_there"] += 1
        for span in p - g:
            overlaps = any(q[0] < span[1] and span[0] < q[1] for q in g)
            entity_errors["wrong_overlapping_a_gold_span" if overlaps else "wrong_no_gold_span_there"] += 1
        gold_pairs = {LEVELS["pairs"](k) for k in gold}
        pred_pairs = {LEVELS["pairs"](k) for k in pred}
        for pair in pred_pairs - gold_pairs:  # a wrong pair: of two right entities, or not
            both_right = (pair[0], pair[1]) in g and (pair[2], pair[3]) in g
            wrong_pairs["of_gold_entities" if both_right else "with_a_wrong_entity"] += 1
        for pair in gold_pairs - pred_pairs:  # a missed pair: both entities found elsewhere, or not
            both_found = (pair[0], pair[1]) in p and (pair[2], pair[3]) in p
            missed_pairs["entities_both_predicted" if both_found else "an_entity_missed"] += 1
        for k in pred:
            if LEVELS["pairs"](k) in gold_pairs:
                on_gold_pairs += 1
                relation_right += k in gold
    out = {name: {**prf(*c), "tp": c[0], "predicted": c[1], "gold": c[2]} for name, c in counts.items()}
    out["relation_right_on_gold_pairs"] = {"share": round(100 * relation_right / on_gold_pairs, 2) if on_gold_pairs else 0.0,
                                           "right": relation_right, "predicted_on_gold_pairs": on_gold_pairs}
    out["wrong_pairs"], out["missed_pairs"], out["entity_errors"] = wrong_pairs, missed_pairs, entity_errors
    out["triples_by_gold_count"] = {
        count: {**prf(*row[:3]), "tp": row[0], "predicted": row[1], "gold": row[2], "docs": row[3],
                "docs_nothing_predicted": row[4]}
        for count, row in sorted(by_count.items(), key=lambda item: (len(item[0]), item[0]))}
    return out


def sample(items: list, n: Optional[int], seed: int = 0) -> list:
    """``n`` of ``items`` drawn without replacement by a seeded shuffle (all of them, in their order,
    when ``n`` is None or not below their number): the same seed gives the same sample."""
    if n is None or n >= len(items):
        return list(items)
    if n < 1:
        raise ValueError(f"--sample must be at least 1, not {n}")
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    return [items[i] for i in sorted(order[:n])]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--dataset", default="webnlg")
    parser.add_argument("--split", choices=("train", "dev", "test"), default="test")
    parser.add_argument("--sample", type=int, default=None,
                        help="score this many docs drawn from the split (seeded; default: all, or 703 for train)")
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed")
    parser.add_argument("--test", help="a corpus file to score instead of the dataset's split")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import spacy
    import torch
    from spacy.training import Corpus

    import compare_architectures as ca
    from spacy_triples.scorer import triple_keys

    torch.set_num_threads(args.threads)
    train, dev, test = (str(ca.CORPUS / f"{name}.spacy") for name in ca.DATASETS[args.dataset])
    path = args.test or {"train": train, "dev": dev, "test": test}[args.split]
    n = args.sample if args.sample is not None or args.test or args.split != "train" else 703
    nlp = spacy.load(args.model)
    examples = sample(list(Corpus(path)(nlp)), n, args.seed)
    golds = [triple_keys(eg.reference) for eg in examples]
    on_corpus = list(nlp.pipe([eg.predicted for eg in examples]))
    on_text = list(nlp.pipe([eg.reference.text for eg in examples]))
    differ = sum([t.text for t in a] != [t.text for t in b] for a, b in zip(on_corpus, on_text))
    entry = {
        "model": args.model, "dataset": args.dataset, "corpus": path, "split": None if args.test else args.split,
        "sample": None if n is None else {"docs": n, "seed": args.seed}, "docs": len(examples),
        "docs_tokenized_differently": differ,
        "corpus_docs": breakdown(zip(golds, [triple_keys(d) for d in on_corpus])),
        "text": breakdown(zip(golds, [triple_keys(d) for d in on_text])),
    }
    print(json.dumps(entry, indent=1))
    ca.append_measurement("error_breakdown", entry, machine=ca.cpu_name())


if __name__ == "__main__":
    main()
