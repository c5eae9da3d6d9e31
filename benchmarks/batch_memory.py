"""Peak memory of one training step, by batch (issue 14, goal 5).

    python benchmarks/batch_memory.py [--config gp_transformer] [--dataset conll04]
        [--accumulate 1 2 4] [--set KEY=VALUE ...]

A 29-minute training run peaks at about 2.8 GiB while its first 80 steps peak at 1.9 GiB
(benchmarks/train_memory.py): the peak comes from something that happens rarely. This probe makes
the rare things happen at once, in one process per setting: it initialises the pipeline as
compare_architectures.py does, then measures the peak resident set size (VmHWM, reset through
/proc/self/clear_refs before each phase, after glibc's malloc_trim) of

- ``median``: three updates on a batch of the batcher's size made of median-length training docs;
- ``longest``: three updates on the longest training docs (the worst batch the batcher can make);
- ``evaluate``: scoring the dev set, as the training loop's evaluation does;
- ``loop_*``: what happens between two trims when a dev evaluation finds a new best model:
  ``--trim-every`` updates on shuffled batches (the last the longest), then the evaluation, then
  saving the pipeline; the peak after each, without resetting it;

once per ``--accumulate`` value (spaCy's ``training.accumulate_gradient``: the batch is split into
that many sub-batches, each updated without an optimizer step, then one step). Appends to
benchmarks/results/batch_memory.json.
"""
import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import compare_architectures as ca  # noqa: E402  (stdlib only at import)


def peak_mib() -> dict:
    from compare_architectures import proc_memory_mib

    return proc_memory_mib()


def reset_peak() -> None:
    from spacy_triples.training.memory import malloc_trim

    malloc_trim()
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current VmRSS


def child(args) -> dict:
    from spacy import util
    from spacy.training import Corpus
    from spacy.training.initialize import init_nlp
    from spacy.training.loop import subdivide_batch

    cfg, train, dev = ca.probe_config(args.config, args.dataset, args.set, args.threads)
    nlp = init_nlp(cfg)
    util.fix_random_seed(0)
    config = nlp.config.interpolate()
    optimizer = util.registry.resolve(config["training"])["optimizer"]
    size = config["training"]["batcher"]["size"]
    size = size if isinstance(size, int) else 16
    examples = sorted(Corpus(train)(nlp), key=lambda eg: len(eg.reference))
    middle = len(examples) // 2
    batches = {"median": examples[middle - size // 2: middle - size // 2 + size], "longest": examples[-size:]}
    result = {"after_init": peak_mib(), "batch_docs": size,
              "batch_tokens": {k: sum(len(eg.reference) for eg in v) for k, v in batches.items()},
              "longest_doc_tokens": len(examples[-1].reference)}
    def update(batch):  # spaCy's train_while_improving, one step
        for sub in subdivide_batch(batch, args.accumulate):
            nlp.update(sub, drop=0.1, sgd=False, losses={})
        for _, proc in nlp.pipeline:
            if getattr(proc, "is_trainable", False) and proc.model not in (True, False, None):
                proc.finish_update(optimizer)

    for name, batch in batches.items():
        reset_peak()
        start = time.perf_counter()
        for _ in range(3):
            update(batch)
        result[name] = {**peak_mib(), "s_per_step": round((time.perf_counter() - start) / 3, 2)}
    reset_peak()
    dev_examples = list(Corpus(dev)(nlp))
    nlp.evaluate(dev_examples)
    result["evaluate"] = peak_mib()
    # what the training loop does between two trims when a dev evaluation finds a new best model:
    # updates on random batches (the last one the longest), no trim, then evaluate, then save
    reset_peak()
    random.Random(0).shuffle(examples)
    loop = [examples[i * size: (i + 1) * size] for i in range(args.trim_every - 1)] + [batches["longest"]]
    for batch in loop:
        update(batch)
    result["loop_updates"] = peak_mib()
    nlp.evaluate(dev_examples)
    result["loop_evaluate"] = peak_mib()
    with tempfile.TemporaryDirectory() as tmp:
        nlp.to_disk(tmp)
    result["loop_to_disk"] = peak_mib()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="gp_transformer")
    parser.add_argument("--dataset", default="conll04")
    parser.add_argument("--accumulate", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--trim-every", type=int, default=10, help="steps between two trims (the configs' malloc_trim every)")
    parser.add_argument("--set", nargs="*", default=[])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.accumulate = args.accumulate[0]
        print("RESULT " + json.dumps(child(args)))
        return
    runs = []
    for accumulate in args.accumulate:
        cmd = [sys.executable, __file__, "--child", "--config", args.config, "--dataset", args.dataset,
               "--accumulate", str(accumulate), "--threads", str(args.threads), "--trim-every", str(args.trim_every), "--set", *args.set]
        run = {"config": args.config, "dataset": args.dataset, "accumulate_gradient": accumulate,
               "settings": args.set, **ca.child_result(cmd)}
        print(json.dumps(run), flush=True)
        runs.append(run)
    out_file = ROOT / "benchmarks" / "results" / "batch_memory.json"
    old = json.loads(out_file.read_text())["runs"] if out_file.exists() else []
    payload = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}",
               "command": "python benchmarks/batch_memory.py " + " ".join(sys.argv[1:]), "runs": old + runs}
    out_file.write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
