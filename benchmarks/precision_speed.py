"""Prediction speed (and, with a trained pipeline, accuracy) of each CPU precision (issue 43):

    python benchmarks/precision_speed.py [--model PATH] [--threads 2] [--repeats 3] [--limit N]
        [--datasets conll04,webnlg] [--variants encoder_fp32,fp32,bf16,int8] [--qengine x86]

Variants, each timed in its own process with ``--threads`` torch threads (``nlp.pipe``, batch 64,
a warm-up batch, then the best of ``--repeats`` passes over the texts; float32 is always measured
in the same run as the others, so the ratios compare like with like):

* ``encoder_fp32``: the MiniLM encoder alone (only the ``transformer`` component enabled), float32;
* ``fp32``, ``bf16``, ``int8``: the whole pipeline in that precision (``spacy_triples.set_precision``;
  bf16 and int8 with their default engines: OpenVINO for bf16 on a CPU with AMX where it is
  installed, else torch's autocast; ONNX Runtime for int8 where installed);
* ``bf16_torch``, ``bf16_openvino``: bf16 with that engine (``bf16_engine="torch"`` / ``"openvino"``);
* ``int8_torch``, ``int8_onnx``, ``int8_openvino``: int8 with that engine (``int8_engine="torch"`` /
  ``"onnxruntime"`` / ``"openvino"``);
* ``int8_openvino_static``: ``int8_engine="openvino_static"``, calibrated on the first
  ``--calibration`` sentences (default 256) of the training split of the first ``--score`` dataset
  (never a test sentence);
* ``int8_head`` (optional): int8 with the triple_extractor's own Linear layers quantized too
  (``quantize_head=True``), to see whether quantizing the head pays;
* any of these with ``@N``: the transformer and the triple_extractor each run a batch in
  length-sorted sub-batches of at most N padded tokens (both components' ``max_batch_items``;
  without ``@``, the pipeline's own settings), e.g. ``encoder_fp32@4096,fp32@4096,fp32@512``.

Texts: the CoNLL04 and WebNLG test sets (corpus/converted; python benchmarks/convert_datasets.py
makes them), ``--limit`` documents of each. The pipeline is ``--model PATH`` (a trained
transformer pipeline: its test strict F1 is measured in every precision, on the datasets named by
``--score``, default the first of ``--datasets``) or, without it, configs/gp_transformer.cfg
initialised on CoNLL04 (untrained: speed only). ``--qengine`` sets
``torch.backends.quantized.engine`` (x86, fbgemm or onednn) before int8 quantizes.

Appends a run (lscpu's model name and flags, torch's CPU capability, the command, the date) to
benchmarks/results/precision_speed.json (or ``--output``) and prints a table. Nothing else should
run on the machine meanwhile; smoke test with ``--limit 50 --repeats 1 --output /tmp/p.json``.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's spacy_triples, whichever is installed
CORPUS = ROOT / "corpus" / "converted"
TEST_SETS = {"conll04": CORPUS / "conll04__unified_format__test.CoNLL04.json.spacy",
             "webnlg": CORPUS / "webnlg__test_triples.json.spacy"}
VARIANTS = ("encoder_fp32", "fp32", "bf16", "bf16_torch", "bf16_openvino", "int8", "int8_torch", "int8_onnx", "int8_openvino", "int8_openvino_static",
            "int8_head")
TRAIN_SETS = {"conll04": CORPUS / "conll04__unified_format__train.CoNLL04.json.spacy",
              "webnlg": CORPUS / "webnlg__train_triples.json.spacy"}
DEFAULT_VARIANTS = "encoder_fp32,fp32,bf16,int8"
BATCH_SIZE = 64


def lscpu() -> dict:
    """lscpu's model name and flags row (empty where lscpu is missing)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        return {"model_name": platform.processor() or platform.machine(), "flags": ""}
    rows = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    return {"model_name": rows.get("Model name", "").strip(), "flags": rows.get("Flags", "").strip()}


def _pipeline(model):
    """The trained pipeline at ``model``, or configs/gp_transformer.cfg initialised on CoNLL04."""
    import warnings

    import spacy

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if model:
            return spacy.load(model)
        from spacy import util
        from spacy.training.initialize import init_nlp

        path = str(TEST_SETS["conll04"])
        config = util.load_config(ROOT / "configs" / "gp_transformer.cfg",
                                  overrides={"paths.train": path, "paths.dev": path}, interpolate=False)
        return init_nlp(config)


def child(args) -> dict:
    import spacy
    import torch
    from spacy.tokens import DocBin
    from spacy.training import Corpus

    from spacy_triples import set_precision

    torch.set_num_threads(args.threads)
    if args.qengine:
        torch.backends.quantized.engine = args.qengine
    started = time.perf_counter()
    nlp = _pipeline(args.model)
    variant, _, items = args.variant.partition("@")
    if items:
        if "transformer" in nlp.pipe_names:
            nlp.get_pipe("transformer").cfg["max_batch_items"] = int(items)
        if "triple_extractor" in nlp.pipe_names:
            nlp.get_pipe("triple_extractor").max_batch_items = int(items)
    if variant == "encoder_fp32":
        if "transformer" not in nlp.pipe_names:
            raise SystemExit("encoder_fp32 needs a pipeline with a 'transformer' component (MiniLM).")
        nlp.select_pipes(enable=["transformer"])
        applied = "fp32"
    else:
        precision = "int8" if variant.startswith("int8") else "bf16" if variant.startswith("bf16") else variant
        bf16_engine = {"bf16_torch": "torch", "bf16_openvino": "openvino"}.get(variant, "auto")
        engine = {"int8_torch": "torch", "int8_onnx": "onnxruntime", "int8_openvino": "openvino",
                  "int8_openvino_static": "openvino_static", "int8_head": "torch"}.get(variant, "auto")
        calibration = None
        if engine == "openvino_static":
            train_docs = DocBin().from_disk(TRAIN_SETS[args.score.split(",")[0]]).get_docs(spacy.blank("en").vocab)
            calibration = [doc.text for _, doc in zip(range(args.calibration), train_docs)]
        applied = set_precision(nlp, precision, int8_engine=engine, quantize_head=variant == "int8_head", save=False,
                                calibration=calibration, bf16_engine=bf16_engine)
    load_s = time.perf_counter() - started
    shims = [s for node in nlp.get_pipe("transformer").model.walk() for s in node.shims] if "transformer" in nlp.pipe_names else []
    engines = sorted({s.__dict__.get("int8_engine") or "bf16_" + s.__dict__.get("bf16_engine", "")
                      for s in shims if s.__dict__.get("int8_engine") or s.__dict__.get("bf16_engine")})
    extractor = nlp.get_pipe("triple_extractor") if "triple_extractor" in nlp.pipe_names else None
    result = {"variant": args.variant, "applied": applied,
              "transformer_max_batch_items": nlp.get_pipe("transformer").cfg.get("max_batch_items")
              if "transformer" in nlp.pipe_names else None,
              "max_batch_items": getattr(extractor, "max_batch_items", None) if variant != "encoder_fp32" else None, "int8_engine": ",".join(engines) or None, "threads": torch.get_num_threads(),
              "qengine": torch.backends.quantized.engine, "load_s": round(load_s, 2), "datasets": {}}
    for name in args.datasets.split(","):
        docs = list(DocBin().from_disk(TEST_SETS[name]).get_docs(spacy.blank("en").vocab))[:args.limit]
        texts = [doc.text for doc in docs]
        n_words = sum(len(doc) for doc in docs)
        list(nlp.pipe(texts[:BATCH_SIZE], batch_size=BATCH_SIZE))  # warm-up (and int8's first use)
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            for _ in nlp.pipe(texts, batch_size=BATCH_SIZE):
                pass
            times.append(time.perf_counter() - t)
        entry = {"docs": len(texts), "words": n_words, "seconds": [round(s, 3) for s in times],
                 "words_per_s": round(n_words / min(times), 1)}
        if args.model and variant != "encoder_fp32" and name in args.score.split(","):
            examples = list(Corpus(str(TEST_SETS[name]), limit=args.limit or 0)(nlp))
            scores = nlp.evaluate(examples, batch_size=BATCH_SIZE)
            entry["triples_strict_f"] = scores.get("triples_strict_f")
            entry["triples_f"] = scores.get("triples_f")
        result["datasets"][name] = entry
    return result


def table(results) -> str:
    datasets = list(results[0]["datasets"])
    lines = ["| variant | applied | int8 engine | " + " | ".join(
        f"{d} words/s | x fp32 pipeline | x fp32 encoder | {d} strict F1" for d in datasets) + " |",
             # (x fp32 encoder of a variant VARIANT@N: against encoder_fp32@N where measured)
             "|---|---|---|" + "---|---|---|---|" * len(datasets)]
    by_name = {r["variant"]: r for r in results}
    for r in results:
        # "x fp32 pipeline": against the pipeline as saved (plain fp32); "x fp32 encoder": against
        # the encoder alone with the same @N where measured, else the plain one
        suffix = "@" + r["variant"].partition("@")[2] if "@" in r["variant"] else ""
        fp32 = by_name.get("fp32")
        encoder = by_name.get("encoder_fp32" + suffix, by_name.get("encoder_fp32"))
        cells = []
        for d in datasets:
            e = r["datasets"][d]
            ratios = [e["words_per_s"] / base["datasets"][d]["words_per_s"] if base else None for base in (fp32, encoder)]
            f = e.get("triples_strict_f")
            cells += [f"{e['words_per_s']:.0f}"] + ["-" if x is None else f"{x:.2f}" for x in ratios]
            cells.append("-" if f is None else f"{100 * f:.2f}")
        lines.append(f"| {r['variant']} | {r['applied']} | {r.get('int8_engine') or '-'} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a trained transformer pipeline (then test F1 is measured too)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per variant; the best counts")
    parser.add_argument("--limit", type=int, default=None, help="first N documents of each test set (default all)")
    parser.add_argument("--datasets", default="conll04,webnlg")
    parser.add_argument("--score", default=None, help="datasets to score --model on (default: the first of --datasets)")
    parser.add_argument("--variants", default=DEFAULT_VARIANTS, help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--qengine", default=None, choices=["x86", "fbgemm", "onednn"],
                        help="torch's quantized engine for int8 (default: torch's own, x86)")
    parser.add_argument("--calibration", type=int, default=256,
                        help="int8_openvino_static: calibrate on this many training sentences of the first --score dataset")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "precision_speed.json"))
    parser.add_argument("--child", dest="variant", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.score = args.score or args.datasets.split(",")[0]
    for name in args.datasets.split(","):
        if name not in TEST_SETS:
            parser.error(f"unknown dataset {name!r}: use {', '.join(TEST_SETS)}")
        if not TEST_SETS[name].exists():
            parser.error(f"{TEST_SETS[name]} is missing: run python benchmarks/convert_datasets.py")
    variants = args.variants.split(",")
    unknown = sorted(v for v in variants if v.partition("@")[0] not in VARIANTS
                     or (v.partition("@")[2] and not (v.partition("@")[2].isdigit() and int(v.partition("@")[2]) > 0)))
    if unknown:
        parser.error(f"unknown variants {unknown}: use {', '.join(VARIANTS)}, each optionally with @N (N a whole number >= 1)")
    if args.repeats < 1 or args.threads < 1 or args.calibration < 1:
        parser.error("--repeats, --threads and --calibration must be at least 1")
    if any(v.partition("@")[0] == "int8_openvino_static" for v in variants):
        calibration_set = TRAIN_SETS.get(args.score.split(",")[0])
        if calibration_set is None or not calibration_set.exists():
            parser.error(f"int8_openvino_static calibrates on {calibration_set}, which is missing: "
                         "run python benchmarks/convert_datasets.py")
    if args.variant:
        print("RESULT " + json.dumps(child(args)))
        return
    if "fp32" not in variants:
        variants.insert(0, "fp32")  # the baseline is always measured in the same run
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads),
               TOKENIZERS_PARALLELISM="false")
    passthrough = [a for a in sys.argv[1:] if a != "--child"]
    results = []
    for variant in variants:
        proc = subprocess.run([sys.executable, __file__, *passthrough, "--child", variant], env=env,
                              capture_output=True, text=True)
        lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
        if proc.returncode or not lines:
            sys.exit(f"variant {variant} failed:\n{proc.stderr[-4000:]}")
        results.append(json.loads(lines[-1][len("RESULT "):]))
        print(f"{variant}: " + ", ".join(f"{d} {e['words_per_s']:.0f} words/s"
                                          for d, e in results[-1]["datasets"].items()), file=sys.stderr)
    import torch

    cpu = lscpu()
    run = {"cpu": cpu["model_name"], "cpu_flags": cpu["flags"],
           "torch": torch.__version__, "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
           "command": "python benchmarks/precision_speed.py " + " ".join(passthrough),
           "date": time.strftime("%Y-%m-%d"), "model": args.model or "configs/gp_transformer.cfg (untrained)",
           "batch_size": BATCH_SIZE, "repeats": args.repeats, "limit": args.limit, "results": results}
    out = Path(args.output)
    runs = json.loads(out.read_text()).get("runs", []) if out.exists() else []
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps({"runs": runs + [run]}, indent=2))
    tmp.replace(out)
    print(table(results))
    print(f"written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
