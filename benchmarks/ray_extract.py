"""Single-process `extract` against `extract --engine ray` with 1 and 2 actors (issue 16).

    .venv/bin/python benchmarks/ray_extract.py [--model training/minilm/model-best] [--docs 3000] [--batch-size 64]

Run it with nothing else running. Corpus: the 700 sentences of the bundled CoNLL04 sample
(data/sample/train.json and dev.json, tokens joined by spaces), repeated to --docs documents in one
JSONL file. Model: --model (default training/minilm/model-best, which `bash scripts/main.sh` trains).

Every engine runs the whole command the same way (read the input, load the pipeline, extract, write,
count), so docs/s is end to end. Each Ray run starts a fresh local Ray (`ray.init`, timed apart) and
ends it, so no run inherits warm worker processes from another. Also measured: the fixed cost of a
Ray run, a 1-document input on a fresh Ray (`ray.init` + worker start-up + each actor loading the
pipeline + read/write tasks). Results: benchmarks/results/ray_extract.json and a table on stdout.
"""
import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def sentences():
    texts = []
    for name in ("train.json", "dev.json"):
        for record in json.loads((ROOT / "data" / "sample" / name).read_text(encoding="utf8")):
            texts.append(" ".join(record["tokens"]))
    return texts


def write_corpus(path: Path, n_docs: int) -> int:
    texts = sentences()
    with open(path, "w", encoding="utf8") as out:
        for k in range(n_docs):
            out.write(json.dumps({"id": k, "text": texts[k % len(texts)]}, ensure_ascii=False) + "\n")
    return sum(len(texts[k % len(texts)].split()) for k in range(n_docs))


def run_single(model: str, corpus: Path, out: Path, batch_size: int) -> dict:
    from spacy_triples.cli import extract

    start = time.perf_counter()
    summary = extract(model, str(corpus), str(out), batch_size=batch_size, progress=False)
    wall = time.perf_counter() - start
    return {"engine": "spacy (one process)", "wall_s": round(wall, 2), "extract_s": round(summary.seconds, 2),
            "docs": summary.written, "triples": summary.triples}


def run_ray(model: str, corpus: Path, out: Path, batch_size: int, num_actors: int, num_cpus: int) -> dict:
    import ray

    from spacy_triples.extract.ray_engine import extract_to_folder

    start = time.perf_counter()
    ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
    init = time.perf_counter() - start
    try:
        start = time.perf_counter()
        summary = extract_to_folder(model, str(corpus), str(out), num_actors=num_actors, batch_size=batch_size)
        wall = time.perf_counter() - start
    finally:
        ray.shutdown()
    return {"engine": f"ray, {num_actors} actor{'s' if num_actors > 1 else ''}", "ray_init_s": round(init, 2),
            "wall_s": round(wall, 2), "extract_s": round(summary.seconds, 2), "docs": summary.written,
            "triples": summary.triples}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "training" / "minilm" / "model-best"))
    parser.add_argument("--docs", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "ray_extract.json"))
    args = parser.parse_args()
    if not Path(args.model).is_dir():
        print(f"error: no pipeline at {args.model}: run `bash scripts/main.sh` first, or give --model.", file=sys.stderr)
        return 1
    if args.docs < 1:
        print("error: --docs must be at least 1.", file=sys.stderr)
        return 1
    import ray
    import torch

    work = Path(tempfile.mkdtemp(prefix="ray_extract_"))
    try:
        corpus, one = work / "corpus.jsonl", work / "one.jsonl"
        words = write_corpus(corpus, args.docs)
        write_corpus(one, 1)
        cpus = os.cpu_count() or 1
        rows = [run_single(args.model, corpus, work / "single.jsonl", args.batch_size)]
        reference = (work / "single.jsonl").read_text(encoding="utf8").count("\n")
        fixed = run_ray(args.model, one, work / "one", args.batch_size, 1, cpus)
        for k in (1, 2):
            rows.append(run_ray(args.model, corpus, work / f"ray{k}", args.batch_size, k, cpus))
        for row in rows:
            row["docs_per_s"] = round(row["docs"] / row["wall_s"], 1)
            assert row["docs"] == reference == args.docs, row  # every engine wrote every document
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"arch": platform.machine(), "cpus": cpus, "torch_threads_single_process": torch.get_num_threads(),
                    "torch_threads_per_actor": 1, "ray": ray.__version__, "python": platform.python_version()},
        "model": os.path.relpath(args.model, ROOT) if args.model.startswith(str(ROOT)) else args.model,
        "docs": args.docs, "words": words, "batch_size": args.batch_size,
        "runs": rows,
        "ray_fixed_cost": {"ray_init_s": fixed["ray_init_s"], "one_document_run_s": fixed["wall_s"],
                           "total_s": round(fixed["ray_init_s"] + fixed["wall_s"], 2)},
        "note": ("wall_s: the whole command after the engine is up (read, load the pipeline, extract, write); "
                 "extract_s: the engine's own summary seconds (spaCy: the nlp.pipe loop; Ray: the Dataset "
                 "execution, actor start-up included). Ray actors take 1 CPU each and run torch on 1 thread; "
                 "the single process runs torch on every core. Triple counts can differ between engines: this "
                 "model's predictions depend on which documents share a batch (padding), and Ray forms its "
                 "batches from its own blocks (single-process extract with --batch-size 1 and 64 differ too)."),
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n", encoding="utf8")
    print(f"{args.docs} documents ({words} words), batch size {args.batch_size}, {cpus} CPUs, ray {ray.__version__}\n")
    print("| engine | ray.init s | wall s | extract s | docs/s |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['engine']} | {row.get('ray_init_s', '-')} | {row['wall_s']} | {row['extract_s']} | "
              f"{row['docs_per_s']} |")
    cost = result["ray_fixed_cost"]
    print(f"\nfixed cost of a Ray run: ray.init {cost['ray_init_s']} s + a 1-document run {cost['one_document_run_s']} s "
          f"= {cost['total_s']} s\nwritten to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
