"""Training speed and long-document memory benchmarks (issue 5). Accuracy comes from
compare_architectures.py; inference speed against the encoder and relation-count scaling from
inference_speed.py.

    python benchmarks/suite.py [--models training/bench] [--threads 2]

Uses the pipelines trained by benchmarks/compare_architectures.py (WebNLG transformer and DGCNN
models) when they exist, so that decoding sees a trained model's candidates. Every figure is
printed next to its goal and written to benchmarks/results/suite.json with a markdown table.
"""
import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST = ROOT / "corpus" / "converted" / "webnlg__test_triples.json.spacy"
TRAIN = ROOT / "corpus" / "converted" / "webnlg__train_triples.json.spacy"


def _texts(limit=None):
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    docs = list(DocBin().from_disk(TEST).get_docs(nlp.vocab))[:limit]
    return [d.text for d in docs], sum(len(d) for d in docs)


def training_ratio(steps: int = 12, batch: int = 16) -> dict:
    """nlp.update words/s: transformer + triple_extractor vs transformer + tagger (a trivial listener head)."""
    import spacy
    from spacy.tokens import DocBin
    from spacy.training import Example
    from thinc.api import Config

    base = Config().from_disk(ROOT / "configs" / "transformer.cfg")
    vocab = spacy.blank("en").vocab
    refs = list(DocBin().from_disk(TRAIN).get_docs(vocab))[: steps * batch]
    n_words = sum(len(d) for d in refs)
    result = {}
    for head in ("triple_extractor", "tagger"):
        config = base.copy()
        if head == "tagger":
            config["nlp"]["pipeline"] = ["transformer", "tagger"]
            config["components"]["tagger"] = {"factory": "tagger", "model": {
                "@architectures": "spacy.Tagger.v2", "nO": None, "tok2vec": dict(config["components"]["triple_extractor"]["model"]["tok2vec"])}}
            del config["components"]["triple_extractor"]
            config["training"]["score_weights"] = {"tag_acc": 1.0}
        nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
        examples = []
        for ref in refs:
            if head == "tagger":
                for tok in ref:
                    tok.tag_ = "T" if tok.is_title else "O"
            examples.append(Example(spacy.tokens.Doc(nlp.vocab, words=[t.text for t in ref], spaces=[bool(t.whitespace_) for t in ref]), ref))
        optimizer = nlp.initialize(lambda: examples[:200])
        nlp.update(examples[:batch], sgd=optimizer)  # warm-up
        start = time.perf_counter()
        for i in range(0, len(examples), batch):
            nlp.update(examples[i : i + batch], sgd=optimizer)
        result[f"{head}_wps"] = round(n_words / (time.perf_counter() - start), 1)
    result["ratio"] = round(result["triple_extractor_wps"] / result["tagger_wps"], 3)
    result["goal"] = ">= 0.80"
    return result


def one_long_doc(model_dir: str, n_words: int) -> dict:
    """Time and peak RSS for one document of n_words (run in a fresh process)."""
    import spacy

    nlp = spacy.load(model_dir)
    texts, _ = _texts(400)
    nlp(texts[0])
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    words = " ".join(texts).split()
    text = " ".join((words * (n_words // len(words) + 1))[:n_words])
    start = time.perf_counter()
    doc = nlp(text)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"words": n_words, "tokens": len(doc), "seconds": round(seconds, 2), "peak_rss_mib": round(peak, 1),
            "rss_growth_mib": round(peak - base_rss, 1), "triples": len(doc._.triples)}


def _sub(func: str, *args) -> dict:
    out = subprocess.run([sys.executable, __file__, "--call", func, *map(str, args)], capture_output=True, text=True)
    lines = [l for l in out.stdout.splitlines() if l.startswith("RESULT ")]
    if not lines:
        return {"error": (out.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(lines[-1][7:])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default=str(ROOT / "training" / "bench"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--call", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.call:
        name, *rest = args.call
        func = {"training_ratio": lambda: training_ratio(), "one_long_doc": lambda m, n: one_long_doc(m, int(n))}[name]
        print("RESULT " + json.dumps(func(*rest)))
        return
    models = Path(args.models)
    trf, cnn = models / "webnlg-transformer" / "model-best", models / "webnlg-dgcnn" / "model-best"
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, torch threads {args.threads}, no GPU",
               "command": "python benchmarks/suite.py " + " ".join(sys.argv[1:])}
    results["training"] = _sub("training_ratio")
    results["long_docs"] = {name: [_sub("one_long_doc", m, n) for n in (1000, 5000, 20000, 50000)]
                            for name, m in (("dgcnn", cnn), ("transformer", trf))}
    out = ROOT / "benchmarks" / "results" / "suite.json"
    out.write_text(json.dumps(results, indent=2))
    print(markdown(results))


def markdown(r: dict) -> str:
    lines = [f"Machine: {r['machine']}.", "", "| measure | figure | goal |", "|---|---|---|"]
    t = r["training"]
    if "error" not in t:
        lines.append(f"| training words/s: transformer + triple_extractor / transformer + tagger | {t['triple_extractor_wps']} / "
                     f"{t['tagger_wps']} = **{t['ratio']}** | {t['goal']} |")
    for name, rows in r["long_docs"].items():
        for row in rows:
            if "error" in row:
                lines.append(f"| {name} long doc | error: {row['error']} | |")
                continue
            goal = "< 2048 MiB peak" if row["words"] == 20000 else "linear"
            lines.append(f"| {name}: one doc of {row['words']} words ({row['tokens']} tokens) | {row['seconds']} s, peak RSS "
                         f"{row['peak_rss_mib']} MiB (+{row['rss_growth_mib']}) | {goal} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
