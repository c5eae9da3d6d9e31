"""What thinc's PyTorch updates leave behind, with and without ``spacy_triples.training_memory.v1``
(docs/training.md, Training memory):

    python benchmarks/update_chains.py [--weights 100] [--updates 2000]

thinc 8.3's ``PyTorchShim.finish_update`` leaves one small chain link (a tensor and a NumPy view of
the same memory) per weight and update. This trains a PyTorch model of ``--weights`` small weights
(16 x 16 Linear layers) with thinc's Adam for ``--updates`` updates, each in a fresh process, once as
thinc does it and once with ``UpdateChains.cut`` before every update (what the callback does), and
reports the resident memory gained per 1,000 updates (after ``gc.collect`` and ``malloc_trim``, from
/proc: Linux only), the torch tensors alive at the end, and whether the weights are the same bit for
bit. The link does not depend on a weight's size, so MiniLM with a head (about 95 trainable weights)
gains about what 100 weights do here. Appends to benchmarks/results/update_chains.json.
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import compare_architectures as ca  # noqa: E402  (stdlib only at import)


def child(weights: int, updates: int, cut: bool) -> dict:
    import gc
    from types import SimpleNamespace

    import numpy
    import torch
    from thinc.api import Adam, PyTorchWrapper_v2

    from spacy_triples.training.memory import UpdateChains, malloc_trim

    torch.manual_seed(0)
    model = PyTorchWrapper_v2(torch.nn.Sequential(*[torch.nn.Linear(16, 16) for _ in range(weights // 2)]))
    nlp = SimpleNamespace(pipeline=[("model", SimpleNamespace(model=model))])  # what torch_shims reads
    optimizer, X, chains = Adam(0.001), numpy.ones((2, 16), "f"), UpdateChains()

    def run(n):
        for _ in range(n):
            if cut:
                chains.cut(nlp)
            Y, backprop = model.begin_update(X)
            backprop(numpy.ones_like(Y))
            model.finish_update(optimizer)

    def settled_rss():
        gc.collect()
        malloc_trim()
        return ca.proc_memory_mib()["VmRSS"]

    run(100)
    before = settled_rss()
    run(updates)
    after = settled_rss()
    alive = sum(1 for o in gc.get_objects() if isinstance(o, torch.Tensor))
    checksum = float(sum(p.detach().double().sum() for p in model.shims[0]._model.parameters()))
    return {"cut": cut, "mib_per_1000_updates": round((after - before) * 1000 / updates, 1),
            "tensors_alive": alive, "weights_checksum": checksum}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", type=int, default=100)
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--child", choices=["plain", "cut"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.weights < 2 or args.updates < 1:
        parser.error("--weights must be >= 2 and --updates >= 1")
    if args.child:
        print("RESULT " + json.dumps(child(args.weights, args.updates, args.child == "cut")))
        return
    runs = []
    for arm in ("plain", "cut"):
        out = subprocess.run([sys.executable, __file__, "--child", arm, "--weights", str(args.weights),
                              "--updates", str(args.updates)], capture_output=True, text=True, check=True).stdout
        runs.append(json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:]))
    same = runs[0]["weights_checksum"] == runs[1]["weights_checksum"]
    entry = {"weights": args.weights, "updates": args.updates, "runs": runs, "same_weights": same}
    for r in runs:
        print(f"{'with UpdateChains.cut' if r['cut'] else 'thinc as it is':>22}: {r['mib_per_1000_updates']} MiB per "
              f"1,000 updates, {r['tensors_alive']} tensors alive")
    print(f"weights the same bit for bit: {same}")
    ca.append_measurement("update_chains", entry, machine=ca.cpu_name())


if __name__ == "__main__":
    main()
