"""How a GlobalPointer triple's score is made from its four scores, on trained pipelines (issue 14).

    python benchmarks/link_score.py MODEL [MODEL ...] [--dataset conll04] [--threads 2]

``spacy_triples.GlobalPointer.v2``'s ``link_score`` only changes prediction: ``"min"`` (GPLinker)
keeps a triple when its subject, object, head link and tail link each pass the threshold;
``"mean"`` averages the head and tail links first. This scores each trained MODEL on the dev and
test splits with each rule, at the pipeline's own threshold and then with one global threshold
tuned on dev (``tune-thresholds --global``). Appends to benchmarks/results/link_score.json.
"""
import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
RULES = ("min", "mean")


def linkers(nlp, component: str):
    """The GlobalPointerLinker modules of ``component`` (a GlobalPointer pipeline has one)."""
    from spacy_triples.heads.global_pointer.pytorch import GlobalPointerLinker

    model = nlp.get_pipe(component).model
    found = [shim._model for node in model.walk() for shim in node.shims
             if isinstance(getattr(shim, "_model", None), GlobalPointerLinker)]
    if not found:
        raise SystemExit(f"{component} has no GlobalPointer head: link_score applies to spacy_triples.GlobalPointer.v2 only.")
    return found


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
    from spacy_triples.thresholds import tune_thresholds

    torch.set_num_threads(args.threads)
    _, dev, test = (str(ca.CORPUS / f"{name}.spacy") for name in ca.DATASETS[args.dataset])
    keys = ("triples_strict_p", "triples_strict_r", "triples_strict_f")
    runs = []
    for model in args.models:
        nlp = spacy.load(model)
        pipe = nlp.get_pipe(args.component)
        modules = linkers(nlp, args.component)
        test_examples, dev_examples = list(Corpus(test)(nlp)), list(Corpus(dev)(nlp))
        saved = (pipe.cfg["threshold"], dict(pipe.cfg.get("thresholds") or {}))

        def score(examples):
            scores = nlp.evaluate(examples)
            return {k: round(100 * (scores.get(k) or 0.0), 2) for k in keys}

        run = {"model": model, "dataset": args.dataset, "threshold": saved[0]}
        for rule in RULES:
            for module in modules:
                module.link_score = rule
            pipe.cfg["threshold"], pipe.cfg["thresholds"] = saved
            at_threshold = {"dev": score(dev_examples), "test": score(test_examples)}
            sweep = tune_thresholds(nlp, dev_examples, args.component, per_relation=False)
            tuned = {"threshold": sweep["threshold"], "dev_f_after": round(100 * sweep["f1_after"], 2),
                     "test": score(test_examples)}
            run[rule] = {"at_threshold": at_threshold, "global_threshold_tuned_on_dev": tuned}
        print(json.dumps(run), flush=True)
        runs.append(run)
    summary = {rule: {
        "dev_strict_f": round(sum(r[rule]["at_threshold"]["dev"]["triples_strict_f"] for r in runs) / len(runs), 2),
        "test_strict_f": round(sum(r[rule]["at_threshold"]["test"]["triples_strict_f"] for r in runs) / len(runs), 2),
        "test_strict_f_tuned_global": round(sum(r[rule]["global_threshold_tuned_on_dev"]["test"]["triples_strict_f"]
                                                for r in runs) / len(runs), 2)} for rule in RULES}
    print(json.dumps({"mean_over_models": summary}))
    ca.append_measurement("link_score", {"mean_over_models": summary, "runs": runs})


if __name__ == "__main__":
    main()
