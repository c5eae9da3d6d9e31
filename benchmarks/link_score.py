"""How a GlobalPointer triple's score is made, on trained pipelines (issue 14).

    python benchmarks/link_score.py MODEL [MODEL ...] [--dataset conll04] [--threads 2]
    python benchmarks/link_score.py MODEL [MODEL ...] --option mention_decode --values 0 0.25 0.5
    python benchmarks/link_score.py MODEL [MODEL ...] --option max_relations_per_pair --values 0 1

Two settings of ``spacy_triples.GlobalPointer.v2`` only change prediction, so they are tried on
models already trained:
- ``link_score`` (the default option): ``"min"`` (GPLinker) keeps a triple when its subject,
  object, head link and tail link each pass the threshold; ``"mean"`` averages the head and tail
  links first.
- ``mention_decode``: the share of the mention maps (trained with ``mention_weight``) in the
  subject and object scores; 0 reads the role maps alone.
A setting of the triple_extractor itself, for either head:
- ``max_relations_per_pair``: at most this many relations per (subject span, object span) pair,
  the highest-scoring ones; 0 keeps all.
This scores each trained MODEL on the dev and test splits with each value, at the pipeline's own
threshold and then with one global threshold tuned on dev (``tune-thresholds --global``), strict
and last-word scores (the last for WebNLG*). Appends
to benchmarks/results/link_score.json (``link_score``) or benchmarks/results/{option}.json.
"""
import argparse
import functools
import json
import operator
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
# option -> (its default values, how a value is read from the command line)
OPTIONS = {"link_score": (("min", "mean", "max"), str), "mention_decode": (("0", "0.25", "0.5"), float),
           "max_relations_per_pair": (("0", "1"), int)}
PIPE_OPTIONS = ("max_relations_per_pair",)  # set on the pipe's cfg, not on the GlobalPointer module


def linkers(nlp, component: str):
    """The GlobalPointerLinker modules of ``component`` (a GlobalPointer pipeline has one)."""
    from spacy_triples.heads.global_pointer.pytorch import GlobalPointerLinker

    model = nlp.get_pipe(component).model
    found = [shim._model for node in model.walk() for shim in node.shims
             if isinstance(getattr(shim, "_model", None), GlobalPointerLinker)]
    if not found:
        raise SystemExit(f"{component} has no GlobalPointer head: these options apply to spacy_triples.GlobalPointer.v2 only.")
    return found


# the summary's means over models: name -> path in a run's record of one value
SUMMARY = {
    "dev_strict_f": ("at_threshold", "dev", "triples_strict_f"),
    "test_strict_f": ("at_threshold", "test", "triples_strict_f"),
    "dev_strict_f_tuned_global": ("global_threshold_tuned_on_dev", "dev_f_after"),
    "test_strict_f_tuned_global": ("global_threshold_tuned_on_dev", "test", "triples_strict_f"),
    "test_last_word_f": ("at_threshold", "test", "triples_last_word_f"),
    "test_last_word_f_tuned_global": ("global_threshold_tuned_on_dev", "test", "triples_last_word_f"),
    "test_text_f": ("at_threshold", "test", "triples_text_f"),
    "test_text_f_tuned_global": ("global_threshold_tuned_on_dev", "test", "triples_text_f"),
}


def summarise(runs: list, values) -> dict:
    """Each value's ``SUMMARY`` scores, averaged over the runs (one run per model), 2 decimals."""
    def mean(value, path):
        found = [functools.reduce(operator.getitem, path, run[str(value)]) for run in runs]
        return round(sum(found) / len(found), 2)

    return {str(v): {name: mean(v, path) for name, path in SUMMARY.items()} for v in values}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="+")
    parser.add_argument("--dataset", default="conll04")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--component", default="triple_extractor")
    parser.add_argument("--option", choices=sorted(OPTIONS), default="link_score")
    parser.add_argument("--values", nargs="+", help="values of --option to score (default: link_score min mean, "
                        "mention_decode 0 0.25 0.5)")
    args = parser.parse_args()
    defaults, parse = OPTIONS[args.option]
    values = [parse(v) for v in (args.values or defaults)]
    if args.option == "mention_decode" and not all(0 <= v <= 1 for v in values):
        raise SystemExit(f"mention_decode values must be from 0 to 1, got {values}")
    if args.option == "max_relations_per_pair" and not all(v >= 0 for v in values):
        raise SystemExit(f"max_relations_per_pair values must be whole numbers >= 0, got {values}")
    import spacy
    import torch
    from spacy.training import Corpus

    import compare_architectures as ca
    from spacy_triples.training.thresholds import tune_thresholds

    torch.set_num_threads(args.threads)
    _, dev, test = (str(ca.CORPUS / f"{name}.spacy") for name in ca.DATASETS[args.dataset])
    # strict (typed) and last-word (WebNLG*'s papers' score) precision, recall and F1
    # and whole text (TPLinker's "whole_text": the papers' exact-match score on WebNLG and NYT)
    keys = ("triples_strict_p", "triples_strict_r", "triples_strict_f",
            "triples_last_word_p", "triples_last_word_r", "triples_last_word_f",
            "triples_text_p", "triples_text_r", "triples_text_f")
    runs = []
    for model in args.models:
        nlp = spacy.load(model)
        pipe = nlp.get_pipe(args.component)
        modules = [] if args.option in PIPE_OPTIONS else linkers(nlp, args.component)
        test_examples, dev_examples = list(Corpus(test)(nlp)), list(Corpus(dev)(nlp))
        saved = (pipe.cfg["threshold"], dict(pipe.cfg.get("thresholds") or {}))

        def score(examples):
            scores = nlp.evaluate(examples)
            return {k: round(100 * (scores.get(k) or 0.0), 2) for k in keys}

        if args.option == "mention_decode" and not all(module.mention_types for module in modules):
            raise SystemExit(f"{model} was trained without mention maps (mention_weight 0): mention_decode needs them.")
        run = {"model": model, "dataset": args.dataset, "threshold": saved[0]}
        for value in values:
            for module in modules:
                setattr(module, args.option, value)
            if args.option in PIPE_OPTIONS:
                pipe.cfg[args.option] = value
            pipe.cfg["threshold"], pipe.cfg["thresholds"] = saved
            at_threshold = {"dev": score(dev_examples), "test": score(test_examples)}
            sweep = tune_thresholds(nlp, dev_examples, args.component, per_relation=False)
            tuned = {"threshold": sweep["threshold"], "dev_f_after": round(100 * sweep["f1_after"], 2),
                     "test": score(test_examples)}
            run[str(value)] = {"at_threshold": at_threshold, "global_threshold_tuned_on_dev": tuned}
        print(json.dumps(run), flush=True)
        runs.append(run)
    summary = summarise(runs, values)
    print(json.dumps({"mean_over_models": summary}))
    ca.append_measurement(args.option, {"mean_over_models": summary, "runs": runs})


if __name__ == "__main__":
    main()
