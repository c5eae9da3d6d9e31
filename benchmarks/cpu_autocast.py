"""Training and prediction speed of the transformer in bfloat16 on the CPU (issue 14).

    python benchmarks/cpu_autocast.py [--config gp_transformer] [--dataset conll04] [--steps 40]
        [--repeats 2] [--threads 2] [--set KEY=VALUE ...]

``spacy_triples.cpu_autocast.v1`` runs the transformer's forward pass under torch's CPU autocast
(bfloat16 matrix products where the CPU has them). This probe times both precisions the same way,
each in its own process, interleaved ``--repeats`` times (fp32, bf16, fp32, bf16, ...): it
initialises the pipeline as compare_architectures.py does, then runs ``--steps`` training steps
on the same shuffled batches (the config's batch size and ``accumulate_gradient``; the first 3
steps are warm-up and not timed), and times ``nlp.pipe`` over the dev texts (best of 2). Each
process reports seconds per step, words per second, the training losses and its peak RSS; the
losses show whether the two precisions learn alike over the same batches. Appends to
benchmarks/results/cpu_autocast.json. Nothing else should run on the machine meanwhile.
"""
import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import compare_architectures as ca  # noqa: E402  (stdlib only at import)
WARMUP = 3


def child(args) -> dict:
    from spacy.training import Corpus
    from spacy.training.initialize import init_nlp

    from spacy_triples.training.precision import native_bfloat16

    cfg, train, dev = ca.probe_config(args.config, args.dataset, args.set, args.threads)
    cfg["nlp"]["after_pipeline_creation"] = {"@callbacks": "spacy_triples.cpu_autocast.v1",
                                             "enabled": args.precision == "bf16"}
    start = time.perf_counter()
    nlp = init_nlp(cfg)
    init_s = time.perf_counter() - start
    training, optimizer, batches = ca.probe_batches(nlp, train, args.steps)
    losses_per_step, seconds = [], 0.0
    for i, batch in enumerate(batches):  # spaCy's train_while_improving, one step at a time
        t = time.perf_counter()
        losses = ca.probe_step(nlp, batch, training, optimizer)
        if i >= WARMUP:
            seconds += time.perf_counter() - t
        losses_per_step.append(round(float(losses.get("triple_extractor", 0.0)), 4))
    timed = batches[WARMUP:]
    words = sum(len(eg.reference) for batch in timed for eg in batch)
    texts = [eg.reference.text for eg in Corpus(dev)(nlp)]
    n_words = sum(len(t.split()) for t in texts)
    list(nlp.pipe(texts[:32]))  # warm-up
    infer = []
    for _ in range(2):
        t = time.perf_counter()
        list(nlp.pipe(texts, batch_size=64))
        infer.append(time.perf_counter() - t)
    memory = ca.proc_memory_mib()
    return {"precision": args.precision, "native_bfloat16": native_bfloat16(), "init_s": round(init_s, 1),
            "steps_timed": len(timed), "s_per_step": round(seconds / max(len(timed), 1), 3),
            "train_words_per_s": round(words / max(seconds, 1e-9), 1),
            "infer_words_per_s": round(n_words / min(infer), 1), "losses": losses_per_step,
            "peak_rss_mib": memory.get("VmHWM")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="gp_transformer")
    parser.add_argument("--dataset", default="conll04")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", nargs="*", default=[])
    parser.add_argument("--precision", choices=["fp32", "bf16"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.steps <= WARMUP:
        parser.error(f"--steps must be more than the {WARMUP} warm-up steps")
    if args.precision:
        print("RESULT " + json.dumps(child(args)))
        return
    runs = []
    for repeat in range(args.repeats):
        for precision in ("fp32", "bf16"):
            cmd = [sys.executable, __file__, "--precision", precision, "--config", args.config, "--dataset", args.dataset,
                   "--steps", str(args.steps), "--threads", str(args.threads), "--set", *args.set]
            run = {"config": args.config, "dataset": args.dataset, "repeat": repeat, "settings": args.set,
                   **ca.child_result(cmd)}
            print(json.dumps({k: v for k, v in run.items() if k != "losses"}), flush=True)
            runs.append(run)
    summary = {}
    for precision in ("fp32", "bf16"):
        mine = [r for r in runs if r["precision"] == precision]
        summary[precision] = {"s_per_step": min(r["s_per_step"] for r in mine),
                              "infer_words_per_s": max(r["infer_words_per_s"] for r in mine)}
    summary["train_speedup"] = round(summary["fp32"]["s_per_step"] / summary["bf16"]["s_per_step"], 3)
    summary["infer_speedup"] = round(summary["bf16"]["infer_words_per_s"] / summary["fp32"]["infer_words_per_s"], 3)
    print(json.dumps(summary))
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    ca.append_measurement("cpu_autocast", {"summary": summary, "runs": runs},
                          machine=f"{platform.machine()}, {cpu}, {os.cpu_count()} cores, python {platform.python_version()}")


if __name__ == "__main__":
    main()
