"""Separate entity and link thresholds for a trained GlobalPointer pipeline (issue 14).

    python benchmarks/threshold_offsets.py MODEL [MODEL ...] [--dataset conll04] \
        [--offsets 0:0 2:0 3:0 4:0 6:0] [--threads 2]

A GlobalPointer.v2 triple passes when its entity scores (subject and object) and its link score
(head and tail) each clear the one threshold. Each offset pair ``E:L`` (logits) adds E to every
subject and object score and L to every head and tail link before decoding, which is the same as
lowering the entity cut by E and the link cut by L while the other stays put. ``0:0`` is the
pipeline as trained. Large values measure a ceiling: ``0:30`` lets every link pass, so recall is
then bounded by the entities found (and by the per-window cap of L triples).

Prediction only: the offsets wrap ``role_scores`` and ``link_scores`` in
``spacy_triples.heads.global_pointer.pytorch`` for the duration of the run; no model option was
kept (README, Benchmarks: ablation). Scores strict P / R / F1 and boundary-only recall on the dev
and test splits and appends to benchmarks/results/threshold_offsets.json.
"""
import argparse
import json
import re
import sys
from pathlib import Path
from typing import List, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))


def parse_offset(text: str):
    try:
        entity, link = (float(part) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"an offset is ENTITY:LINK in logits, e.g. 2:0; got {text!r}")
    return entity, link


NEGATIVE_OFFSET = re.compile(r"^-\d*\.?\d+:")


def shield_negative_offsets(argv: List[str]) -> List[str]:
    """argparse reads ``-1:0`` as an unknown option (it only knows plain negative numbers):
    a leading space keeps an offset with a negative entity part an argument (float() ignores it)."""
    return [f" {arg}" if NEGATIVE_OFFSET.match(arg) else arg for arg in argv]


def parse_args(argv: List[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="+")
    parser.add_argument("--dataset", default="conll04")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--offsets", nargs="+", type=parse_offset, default=[(0.0, 0.0), (2.0, 0.0), (3.0, 0.0),
                                                                            (4.0, 0.0), (6.0, 0.0)],
                        help="ENTITY:LINK logit offsets; negative ones raise a cut (-1:0, 0:-1)")
    return parser.parse_args(shield_negative_offsets(argv))


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    import spacy
    import torch
    from spacy.training import Corpus

    import compare_architectures as ca
    import spacy_triples.heads.global_pointer.pytorch as gp
    from link_score import linkers

    torch.set_num_threads(args.threads)
    _, dev, test = (str(ca.CORPUS / f"{name}.spacy") for name in ca.DATASETS[args.dataset])
    offset = {"entity": 0.0, "link": 0.0}
    role_scores, link_scores = gp.role_scores, gp.link_scores
    gp.role_scores = lambda *a, **k: role_scores(*a, **k) + offset["entity"]
    gp.link_scores = lambda head, tail, entities, rule="min": link_scores(
        head + offset["link"], tail + offset["link"], entities, rule)
    keys = ("triples_strict_p", "triples_strict_r", "triples_strict_f", "triples_r")
    runs = []
    for model in args.models:
        nlp = spacy.load(model)
        linkers(nlp, "triple_extractor")  # exits with a message on a pipeline without a GlobalPointer head
        examples = {"dev": list(Corpus(dev)(nlp)), "test": list(Corpus(test)(nlp))}
        run = {"model": model, "dataset": args.dataset}
        for entity, link in args.offsets:
            offset["entity"], offset["link"] = entity, link
            scores = {split: nlp.evaluate(exs) for split, exs in examples.items()}
            run[f"{entity:g}:{link:g}"] = {split: {k: round(100 * (s.get(k) or 0.0), 2) for k in keys}
                                           for split, s in scores.items()}
        print(json.dumps(run), flush=True)
        runs.append(run)
    summary = {name: {f"{split}_strict_f": round(sum(r[name][split]["triples_strict_f"] for r in runs) / len(runs), 2)
                      for split in ("dev", "test")}
               for name in (f"{e:g}:{l:g}" for e, l in args.offsets)}
    print(json.dumps({"mean_over_models": summary}))
    ca.append_measurement("threshold_offsets", {"mean_over_models": summary, "runs": runs})


if __name__ == "__main__":
    main()
