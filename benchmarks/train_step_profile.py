"""Where one training step's time goes (issue 43, goal 3):

    python benchmarks/train_step_profile.py [--config gp_transformer] [--dataset conll04] [--steps 30]
        [--threads 2] [--set KEY=VALUE ...]

Builds the pipeline as compare_architectures.py does and runs ``--steps`` training steps the way
spaCy's loop does (the config's batch size and ``accumulate_gradient``; the first 3 are warm-up),
timing with wall clocks around the parts of a step:

* ``encoder_forward`` / ``encoder_backward``: the Hugging Face transformer's shim (spacy-transformers'
  ``HFShim.begin_update`` and the backprop it returns);
* ``head_forward`` / ``head_backward``: the triple_extractor's own PyTorch shims (head, DGCNN);
* ``loss``: the head's ``get_loss`` (targets from gold, loss and gradient, in numpy);
* ``gold``: aligning gold triples through ``Example`` (``gold.align_gold``);
* ``optimizer``: the optimizer over every parameter (``Optimizer.__call__``, and the project's
  subclasses' own, such as ``spacy_triples.Adam.v1``'s);
* ``other``: the rest of the step (wordpiece tokenisation and alignment, the listeners, thinc's
  layers around the shims, spaCy's update bookkeeping).

Prints a table and appends it (with the CPU, the command and the date) to
benchmarks/results/train_step_profile.json. Nothing else should run on the machine meanwhile.
"""
import argparse
import contextlib
import os
import platform
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import compare_architectures as ca  # noqa: E402  (stdlib only at import)

WARMUP = 3
PARTS = ("encoder_forward", "encoder_backward", "head_forward", "head_backward", "loss", "gold", "optimizer")


class Clock:
    """Wall seconds per part, counted only while ``on``; nested parts are not double counted
    (a part's time excludes the parts timed inside it)."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self.on = False
        self._stack = []

    @contextlib.contextmanager
    def part(self, name):
        if not self.on:
            yield
            return
        start = time.perf_counter()
        self._stack.append(0.0)
        try:
            yield
        finally:
            inner = self._stack.pop()
            spent = time.perf_counter() - start
            self.seconds[name] += spent - inner
            if self._stack:
                self._stack[-1] += spent


def instrument(clock: Clock):
    """Wrap the shims, the loss, gold alignment and the optimizer with ``clock`` (this process only)."""
    from spacy_transformers.layers.hf_shim import HFShim
    from thinc.api import Optimizer, PyTorchShim

    import spacy_triples.gold as gold
    import spacy_triples.pipe as pipe

    def shim_update(original):
        def begin_update(self, inputs):
            kind = "encoder" if isinstance(self, HFShim) else "head"
            with clock.part(f"{kind}_forward"):
                output, backprop = original(self, inputs)

            def timed_backprop(*args, **kwargs):
                with clock.part(f"{kind}_backward"):
                    return backprop(*args, **kwargs)
            return output, timed_backprop
        return begin_update

    for cls in {HFShim, PyTorchShim}:
        if "begin_update" in cls.__dict__:
            cls.begin_update = shim_update(cls.__dict__["begin_update"])

    def timed(original, name):
        def wrapper(*args, **kwargs):
            with clock.part(name):
                return original(*args, **kwargs)
        return wrapper

    import spacy_triples.heads.global_pointer.model  # noqa: F401  (the heads, so their classes exist)
    import spacy_triples.heads.pointer.model  # noqa: F401
    from spacy_triples.heads import TripleHead

    for head in _subclasses(TripleHead):  # the head's get_loss: what update calls
        if "get_loss" in head.__dict__:
            head.get_loss = timed(head.__dict__["get_loss"], "loss")
    for module in (gold, pipe):
        if hasattr(module, "align_gold"):
            setattr(module, "align_gold", timed(getattr(module, "align_gold"), "gold"))
    import spacy_triples.training.fused_adam  # noqa: F401  (the project's optimizers, so their classes exist)
    import spacy_triples.training.layerwise  # noqa: F401

    # thinc's optimizer and the project's (spacy_triples.Adam.v1 does its own update); nested calls
    # (a subclass falling back to thinc's code) are counted once: the clock subtracts inner parts
    for cls in {Optimizer} | _subclasses(Optimizer):
        if "__call__" in cls.__dict__:
            cls.__call__ = timed(cls.__dict__["__call__"], "optimizer")


def _subclasses(cls):
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | _subclasses(sub)
    return found


def run(args) -> dict:
    from spacy.training.initialize import init_nlp

    clock = Clock()
    instrument(clock)
    cfg, train, _ = ca.probe_config(args.config, args.dataset, args.set, args.threads)
    nlp = init_nlp(cfg)
    training, optimizer, batches = ca.probe_batches(nlp, train, args.steps)
    total, words = 0.0, 0
    for i, batch in enumerate(batches):  # spaCy's train_while_improving, one step at a time
        clock.on = i >= WARMUP
        t = time.perf_counter()
        ca.probe_step(nlp, batch, training, optimizer)
        if clock.on:
            total += time.perf_counter() - t
            words += sum(len(eg.reference) for eg in batch)
    steps = len(batches) - WARMUP
    parts = {name: round(clock.seconds[name] / steps, 4) for name in PARTS}
    parts["other"] = round(total / steps - sum(parts.values()), 4)
    return {"config": args.config, "dataset": args.dataset, "settings": args.set, "threads": args.threads,
            "steps_timed": steps, "batch_size": ca.probe_batch_size(training),
            "accumulate_gradient": training["accumulate_gradient"],
            "s_per_step": round(total / steps, 4), "train_words_per_s": round(words / total, 1),
            "s_per_step_by_part": parts,
            "share_by_part": {k: round(v / (total / steps), 3) for k, v in parts.items()}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="gp_transformer")
    parser.add_argument("--dataset", default="conll04")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", nargs="*", default=[])
    parser.add_argument("--output", default=None, help="results file (default benchmarks/results/train_step_profile.json)")
    args = parser.parse_args()
    if args.steps <= WARMUP:
        parser.error(f"--steps must be more than the {WARMUP} warm-up steps")
    result = run(args)
    print(f"{result['s_per_step']:.3f} s per step, {result['train_words_per_s']:.0f} words/s "
          f"({result['steps_timed']} steps of {result['batch_size']} docs)")
    print("| part | s per step | share |\n|---|---|---|")
    for name, seconds in result["s_per_step_by_part"].items():
        print(f"| {name} | {seconds:.4f} | {100 * result['share_by_part'][name]:.1f}% |")
    cpu = ca.cpu_name() if hasattr(ca, "cpu_name") else platform.processor()
    machine = f"{platform.machine()}, {cpu}, {os.cpu_count()} cores, python {platform.python_version()}"
    if args.output:
        import json
        Path(args.output).write_text(json.dumps({"machine": machine, "result": result}, indent=2))
    else:
        ca.append_measurement("train_step_profile", result, machine=machine)


if __name__ == "__main__":
    main()
