"""Where a prediction's time goes, per stage, in one precision (issue 43: what stands between the
pipeline and its encoder's speed-up):

    python benchmarks/prediction_profile.py --model MODEL [--precision fp32] [--bf16-engine auto]
        [--int8-engine auto] [--dataset conll04] [--threads 2] [--repeats 2] [--items 1024]

The pipeline at ``MODEL`` (a trained MiniLM pipeline) is set to the precision
(``spacy_triples.set_precision``), then ``nlp.pipe`` runs over a test set's texts (corpus/converted),
batch 64, both components' sub-batches of ``--items`` padded tokens, a warm-up pass, then the best
of ``--repeats`` passes. Each stage is timed by wrapping it (wall seconds, summed over the pass):

* ``wordpiece tokenizer``: spacy-transformers' ``huggingface_tokenize`` (the fast tokenizer);
* ``alignment``: spacy-transformers' ``get_alignment`` / ``get_alignment_via_offset_mapping``
  (spaCy tokens to wordpieces);
* ``encoder forward``: the transformer shim's ``predict`` (MiniLM in the precision: torch, or the
  int8 / OpenVINO copy);
* ``transformer set_annotations``, ``triple_extractor predict`` (listener, head, decoding) and
  ``triple_extractor set_annotations``;
* ``other``: the pass's wall time less the stages (spaCy's tokenizer, batching and sorting, the
  transformer component's own Python, the generator).

Appends a run (lscpu's model name and flags, the command, the date) to
benchmarks/results/prediction_profile.json (or ``--output``) and prints a table. Nothing else should
run on the machine meanwhile.
"""
import argparse
import functools
import json
import os
import sys
import time
import warnings
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's spacy_triples, whichever is installed
sys.path.insert(0, str(ROOT / "benchmarks"))


def _timed(totals, name, func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            totals[name] += time.perf_counter() - started
    return wrapper


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a trained MiniLM pipeline (transformer + triple_extractor)")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "int8", "auto"])
    parser.add_argument("--bf16-engine", default="auto", choices=["auto", "torch", "openvino"])
    parser.add_argument("--int8-engine", default="auto", choices=["auto", "torch", "onnxruntime", "openvino"])
    parser.add_argument("--dataset", default="conll04", choices=["conll04", "webnlg"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--items", type=int, default=1024, help="max_batch_items of both components")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "prediction_profile.json"))
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import spacy
    import torch
    from spacy.tokens import DocBin
    from spacy_transformers.layers import transformer_model

    from compare_architectures import write_json_atomic
    from precision_speed import TEST_SETS, lscpu
    from spacy_triples import set_precision

    torch.set_num_threads(args.threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nlp = spacy.load(args.model)
    if not {"transformer", "triple_extractor"} <= set(nlp.pipe_names):
        raise SystemExit(f"{args.model} needs a 'transformer' and a 'triple_extractor' component, has {nlp.pipe_names}")
    applied = set_precision(nlp, args.precision, bf16_engine=args.bf16_engine, int8_engine=args.int8_engine, save=False)
    transformer, extractor = nlp.get_pipe("transformer"), nlp.get_pipe("triple_extractor")
    transformer.cfg["max_batch_items"] = args.items
    extractor.max_batch_items = args.items
    shims = [s for node in transformer.model.walk() for s in node.shims]
    texts = [doc.text for doc in DocBin().from_disk(TEST_SETS[args.dataset]).get_docs(spacy.blank("en").vocab)]
    words = sum(len(doc) for doc in nlp.tokenizer.pipe(texts))

    totals = defaultdict(float)
    transformer_model.huggingface_tokenize = _timed(totals, "wordpiece tokenizer", transformer_model.huggingface_tokenize)
    for name in ("get_alignment", "get_alignment_via_offset_mapping"):
        if hasattr(transformer_model, name):
            setattr(transformer_model, name, _timed(totals, "alignment", getattr(transformer_model, name)))
    for shim in shims:
        shim.predict = _timed(totals, "encoder forward", shim.predict)  # the instance's, over its class's
    transformer.set_annotations = _timed(totals, "transformer set_annotations", transformer.set_annotations)
    extractor.predict = _timed(totals, "triple_extractor predict", extractor.predict)
    extractor.set_annotations = _timed(totals, "triple_extractor set_annotations", extractor.set_annotations)

    list(nlp.pipe(texts[:64], batch_size=64))  # warm-up
    best = None
    for _ in range(args.repeats):
        totals.clear()
        started = time.perf_counter()
        for _ in nlp.pipe(texts, batch_size=64):
            pass
        wall = time.perf_counter() - started
        if best is None or wall < best[0]:
            best = (wall, dict(totals))
    wall, stages = best
    stages["other"] = max(0.0, wall - sum(stages.values()))
    cpu = lscpu()
    run = {"cpu": cpu["model_name"], "cpu_flags": cpu["flags"], "torch": torch.__version__,
           "command": "python benchmarks/prediction_profile.py " + " ".join(sys.argv[1:] if argv is None else argv),
           "date": time.strftime("%Y-%m-%d"), "model": args.model, "precision": applied,
           "engine": ",".join(sorted({s.__dict__.get("int8_engine") or s.__dict__.get("bf16_engine") or "torch"
                                      for s in shims})) or None,
           "dataset": args.dataset, "docs": len(texts), "words": words, "threads": args.threads,
           "wall_s": round(wall, 3), "words_per_s": round(words / wall, 1),
           "stages_s": {k: round(v, 3) for k, v in sorted(stages.items(), key=lambda kv: -kv[1])}}
    out = Path(args.output)
    runs = json.loads(out.read_text()).get("runs", []) if out.exists() else []
    write_json_atomic(out, {"runs": runs + [run]})
    print(f"{applied} ({run['engine']}), {args.dataset}: {wall:.2f} s, {run['words_per_s']:.0f} words/s")
    print("| stage | s | share |\n|---|---|---|")
    for name, seconds in run["stages_s"].items():
        print(f"| {name} | {seconds:.3f} | {100 * seconds / wall:.1f}% |")
    print(f"written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
