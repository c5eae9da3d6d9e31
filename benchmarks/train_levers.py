"""Training speed levers side by side in one run (issue 43, goal 3): training words/s of the same
config with each lever, measured by benchmarks/step_time.py in turn, interleaved, ``--repeats``
times, each in its own process.

    python benchmarks/train_levers.py [--config gp_transformer] [--dataset conll04] [--steps 116]
        [--repeats 3] [--threads 2] [--variants fp32 buckets buckets_whole bf16_whole all fused ...]

Variants (``--set`` overrides on the config):
- ``fp32``: the config as it is (the baseline; ratios are against it);
- ``buckets``: ``spacy_triples.batch_by_length.v1`` (size 8, buffer 32) instead of batch_by_sequence;
- ``buckets_whole``: that and ``accumulate_gradient = 1`` (whole batches);
- ``bf16_whole``: bfloat16 autocast (``nlp.after_pipeline_creation.enabled = true``) and whole batches;
- ``all``: buckets, whole batches and bfloat16;
- ``fused``: ``spacy_triples.Adam.v1`` (thinc's Adam computed by PyTorch's fused kernel) instead of
  ``Adam.v1``, the config otherwise as it is;
- ``buckets_whole_fused``: buckets, whole batches and the fused Adam (float32 throughout);
- ``all_fused``: all four.
``--steps 116`` is one CoNLL04 epoch in batches of 8, so every variant sees the same sentences.
Reports the median words/s of each variant, its ratio to ``fp32``'s median, and the highest
resident memory. Run it with nothing else on the machine. Appends to
benchmarks/results/train_levers.json.
"""
import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

BUCKETS = 'training.batcher={"@batchers":"spacy_triples.batch_by_length.v1","size":8,"buffer":32,"get_length":null}'
WHOLE = "training.accumulate_gradient=1"
BF16 = "nlp.after_pipeline_creation.enabled=true"
FUSED = "training.optimizer.@optimizers=spacy_triples.Adam.v1"
VARIANTS = {
    "fp32": [],
    "buckets": [BUCKETS],
    "buckets_whole": [BUCKETS, WHOLE],
    "bf16_whole": [BF16, WHOLE],
    "all": [BUCKETS, WHOLE, BF16],
    "fused": [FUSED],
    "buckets_whole_fused": [BUCKETS, WHOLE, FUSED],
    "all_fused": [BUCKETS, WHOLE, BF16, FUSED],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="gp_transformer")
    parser.add_argument("--dataset", default="conll04")
    parser.add_argument("--steps", type=int, default=116)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()
    if args.steps < 1 or args.repeats < 1:
        raise SystemExit("--steps and --repeats must be at least 1")
    if "fp32" not in args.variants:
        args.variants = ["fp32", *args.variants]
    import compare_architectures as ca

    runs = {name: [] for name in args.variants}
    step_time = ROOT / "benchmarks" / "step_time.py"
    for repeat in range(args.repeats):
        for name in args.variants:
            cmd = [sys.executable, str(step_time), "--config", args.config, "--dataset", args.dataset,
                   "--steps", str(args.steps), "--warmup", "5", "--threads", str(args.threads)]
            if VARIANTS[name]:
                cmd += ["--set", *VARIANTS[name]]
            result = ca.child_result(cmd)
            runs[name].append({"words_per_s": result["words_per_s"], "per_step_s": result["per_step_s"],
                               "memory_mib": result["memory_mib"]})
            print(repeat, name, result["words_per_s"], flush=True)
    base = statistics.median(r["words_per_s"] for r in runs["fp32"])
    summary = {}
    for name, rs in runs.items():
        median = statistics.median(r["words_per_s"] for r in rs)
        summary[name] = {"settings": VARIANTS[name], "words_per_s_median": round(median, 1),
                         "x_fp32": round(median / base, 3),
                         "words_per_s": [r["words_per_s"] for r in rs],
                         "peak_rss_mib": max(r["memory_mib"].get("hwm", 0) for r in rs)}
    print(json.dumps(summary, indent=1))
    ca.append_measurement("train_levers", {"config": args.config, "dataset": args.dataset, "steps": args.steps,
                                           "repeats": args.repeats, "threads": args.threads,
                                           "variants": summary, "runs": runs}, machine=ca.cpu_name())


if __name__ == "__main__":
    main()
