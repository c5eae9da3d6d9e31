"""Does a relation schema read off the training split help a trained pipeline? (issue 14)

    python benchmarks/schema_filter.py MODEL [MODEL ...] [--dataset conll04] [--threads 2]

For typed data (CoNLL04's Peop/Loc/Org/Other), the training split shows which entity types each
relation links (Live_In: Peop -> Loc, ...). The component's ``schema`` setting drops predicted
triples whose types the schema does not allow. This scores each trained MODEL on the test split
as it is, then with the schema observed in the training split (nothing from dev or test), then
with one global threshold tuned on dev on top of the schema (a filter raises precision, so a lower
threshold may buy recall). Appends to benchmarks/results/schema_filter.json.
"""
import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))


def observed_schema(docs) -> dict:
    """{relation: [[subject types], [object types]]} over the gold triples of ``docs``, plus the
    number of triples per (relation, subject type, object type)."""
    from spacy_triples.triples import triple_rows

    pairs = defaultdict(int)
    for doc in docs:
        for row in triple_rows(doc) or ():
            pairs[(row.relation, row.subject_type, row.object_type)] += 1
    schema = defaultdict(lambda: [set(), set()])
    for (rel, s, o) in pairs:
        schema[rel][0].add(s)
        schema[rel][1].add(o)
    return ({rel: [sorted(s), sorted(o)] for rel, (s, o) in schema.items()},
            {f"{r}: {s} -> {o}": n for (r, s, o), n in sorted(pairs.items())})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="+")
    parser.add_argument("--dataset", default="conll04")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--component", default="triple_extractor")
    args = parser.parse_args()
    import spacy
    import torch
    from spacy.training import Corpus

    import compare_architectures as ca
    from spacy_triples.schema import load_relation_schema
    from spacy_triples.training.thresholds import tune_thresholds

    torch.set_num_threads(args.threads)
    train, dev, test = (str(ca.CORPUS / f"{name}.spacy") for name in ca.DATASETS[args.dataset])
    keys = ("triples_strict_p", "triples_strict_r", "triples_strict_f")
    runs = []
    for model in args.models:
        nlp = spacy.load(model)
        pipe = nlp.get_pipe(args.component)
        schema, counts = observed_schema(eg.reference for eg in Corpus(train)(nlp))
        test_examples, dev_examples = list(Corpus(test)(nlp)), list(Corpus(dev)(nlp))

        def score():
            scores = nlp.evaluate(test_examples)
            return {k: round(100 * (scores.get(k) or 0.0), 2) for k in keys}

        before = score()
        pipe.cfg["schema"] = load_relation_schema(schema)
        with_schema = score()
        t = time.perf_counter()
        sweep = tune_thresholds(nlp, dev_examples, args.component, per_relation=False)
        tuned = {**score(), "threshold": sweep["threshold"], "dev_f_before": round(100 * sweep["f1_before"], 2),
                 "dev_f_after": round(100 * sweep["f1_after"], 2), "seconds": round(time.perf_counter() - t, 1)}
        run = {"model": model, "dataset": args.dataset, "schema": schema, "train_type_pairs": counts,
               "test": before, "test_with_schema": with_schema, "test_with_schema_global_threshold": tuned}
        print(json.dumps({k: v for k, v in run.items() if k not in ("schema", "train_type_pairs")}), flush=True)
        runs.append(run)
    ca.append_measurement("schema_filter", {"runs": runs})


if __name__ == "__main__":
    main()
