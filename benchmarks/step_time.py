"""Where a training step's time goes on CPU (issue 14): the forward/backward passes against the
optimizer's update (``finish_update``), for one transformer config on one dataset.

    python benchmarks/step_time.py [--config gp_transformer] [--dataset conll04] [--steps 40]
        [--warmup 5] [--threads 2] [--set training.batcher.size=8 training.accumulate_gradient=2]

``words_per_s`` is training words (tokens) per second of those steps: compare batchers with
``--steps`` of a whole epoch (CoNLL04: 922 sentences, 116 batches of 8), so both see the same
sentences.

Runs ``--warmup`` steps untimed, then ``--steps`` steps as spaCy's training loop does them (each
batch split into ``accumulate_gradient`` sub-batches, ``nlp.update(..., sgd=False)`` on each, then
every trainable component's ``finish_update``), and times the two parts. Run it with nothing else
on the machine. Appends to benchmarks/results/step_time.json.
"""
import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
RESULTS = ROOT / "benchmarks" / "results" / "step_time.json"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="gp_transformer")
    parser.add_argument("--dataset", default="conll04")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", nargs="*", default=[], help="config overrides, e.g. training.batcher.size=8")
    args = parser.parse_args()
    if args.steps < 1 or args.warmup < 0:
        raise SystemExit("--steps must be at least 1 and --warmup at least 0")
    import torch
    from spacy import registry, util
    from spacy.schemas import ConfigSchemaTraining
    from spacy.training.initialize import init_nlp
    from spacy.training.loop import create_train_batches, subdivide_batch
    from spacy.util import resolve_dot_names

    import compare_architectures as ca
    from spacy_triples.training.freeze import pytorch_modules

    # one pass over the corpus is not the limit (--set can still change that)
    cfg, _, _ = ca.probe_config(args.config, args.dataset, ["training.max_epochs=0", *args.set], args.threads)
    nlp = init_nlp(cfg)
    config = nlp.config.interpolate()
    util.fix_random_seed(config["training"]["seed"])
    T = registry.resolve(config["training"], schema=ConfigSchemaTraining)
    (train_corpus,) = resolve_dot_names(config, [T["train_corpus"]])
    batches = create_train_batches(nlp, train_corpus, T["batcher"], T["max_epochs"])
    optimizer, accumulate = T["optimizer"], T["accumulate_gradient"]
    trainable = [proc for name, proc in nlp.pipeline
                 if getattr(proc, "is_trainable", False) and proc.model not in (True, False, None)]
    timings = {"update_s": 0.0, "finish_update_s": 0.0, "before_update_s": 0.0}
    per_component = {name: 0.0 for name, proc in nlp.pipeline if proc in trainable}
    sentences = words = 0
    for step in range(args.warmup + args.steps):
        _, batch = next(batches)
        timed = step >= args.warmup
        t0 = time.perf_counter()
        if T["before_update"]:
            T["before_update"](nlp, {"step": step, "epoch": 0})
        t1 = time.perf_counter()
        losses = {}
        for subbatch in subdivide_batch(batch, accumulate):
            nlp.update(subbatch, drop=T["dropout"], losses=losses, sgd=False)
        t2 = time.perf_counter()
        for name, proc in nlp.pipeline:
            if proc in trainable:
                start = time.perf_counter()
                proc.finish_update(optimizer)
                if timed:
                    per_component[name] += time.perf_counter() - start
        optimizer.step_schedules()
        t3 = time.perf_counter()
        if timed:
            timings["before_update_s"] += t1 - t0
            timings["update_s"] += t2 - t1
            timings["finish_update_s"] += t3 - t2
            sentences += len(batch)
            words += sum(len(eg) for eg in batch)
    n = args.steps
    result = {
        "config": args.config, "dataset": args.dataset, "settings": args.set, "threads": args.threads,
        "steps": n, "sentences_per_step": round(sentences / n, 2),
        "words_per_s": round(words / sum(timings.values()), 1),
        "per_step_s": {k.replace("_s", ""): round(v / n, 4) for k, v in timings.items()},
        "finish_update_per_component_s": {k: round(v / n, 4) for k, v in per_component.items()},
        "finish_update_share": round(timings["finish_update_s"] / sum(timings.values()), 3),
        "trainable_parameters": sum(int(p.numel()) for module in pytorch_modules(nlp) for p in module.parameters()
                                    if p.requires_grad),
        "memory_mib": ca.memory_mib(),
        "torch": torch.__version__, "date": time.strftime("%Y-%m-%d"),
    }
    print(json.dumps(result, indent=1))
    print("RESULT " + json.dumps(result), flush=True)  # for a parent process (train_levers.py)
    runs = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    runs.append(result)
    ca.write_json_atomic(RESULTS, runs)


if __name__ == "__main__":
    main()
