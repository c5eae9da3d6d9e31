"""Where training memory goes (issue 14, goal 5): resident memory over a training run.

    python benchmarks/train_memory.py [--config transformer] [--dataset conll04] [--steps 400]
        [--malloc glibc|arena2|trim] [--set KEY=VALUE ...]

Runs compare_architectures' training for ``--steps`` steps in a child process (so its peak is its
own) and samples the resident set size (VmRSS, and the peak VmHWM) from /proc after
initialisation, every 20 steps and after the test evaluation. ``--malloc`` runs the child with
glibc's default allocator settings, with MALLOC_ARENA_MAX=2, or with a lower trim/mmap threshold,
to tell allocator fragmentation from memory that is really held. Appends to
benchmarks/results/train_memory.json.
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
MALLOC = {
    "glibc": {},
    "arena2": {"MALLOC_ARENA_MAX": "2"},
    "trim": {"MALLOC_ARENA_MAX": "2", "MALLOC_TRIM_THRESHOLD_": "131072", "MALLOC_MMAP_THRESHOLD_": "131072"},
}


def child(args) -> None:
    samples, traced = [], {}
    t0 = time.perf_counter()
    if args.tracemalloc:
        import tracemalloc

        tracemalloc.start(8)

    trim = None
    if args.trim_every:
        from spacy_triples.training.memory import malloc_trim as trim

    def on_step(step, phase):
        if trim is not None and phase == "train" and step % args.trim_every == 0:
            trim()
        if phase != "train" or step % 20 == 0:
            samples.append({"step": step, "phase": phase, "s": round(time.perf_counter() - t0, 1), **ca.proc_memory_mib()})
        if args.tracemalloc and phase == "train" and step == args.steps:
            # what Python and numpy (not torch) hold at the last step, by allocation site
            stats = tracemalloc.take_snapshot().statistics("traceback")
            traced["total_mib"] = round(sum(s.size for s in stats) / 2**20, 1)
            traced["top"] = [{"mib": round(s.size / 2**20, 1), "count": s.count, "where": [str(f) for f in s.traceback[:6]]}
                             for s in stats[:12]]

    result = ca.run_one(args.config, args.dataset, 1e9, Path(args.work) / f"memory-{args.dataset}-{args.config}",
                        Path(args.work) / "vectors", args.threads, args.set, args.steps, on_step=on_step)
    print("RESULT " + json.dumps({"samples": samples, "result": result, "traced": traced}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="transformer")
    parser.add_argument("--dataset", default="conll04")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--malloc", default="glibc", choices=sorted(MALLOC))
    parser.add_argument("--work", default=str(ROOT / "training" / "bench"))
    parser.add_argument("--set", nargs="*", default=[])
    parser.add_argument("--tracemalloc", action="store_true", help="list what Python/numpy hold at the last step, by site")
    parser.add_argument("--trim-every", type=int, default=0, help="call glibc's malloc_trim(0) every N steps")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    env = {**os.environ, **MALLOC[args.malloc]}
    cmd = [sys.executable, __file__, "--child", "--config", args.config, "--dataset", args.dataset, "--steps", str(args.steps),
           "--threads", str(args.threads), "--work", args.work, *(["--tracemalloc"] if args.tracemalloc else []),
           "--trim-every", str(args.trim_every), "--set", *args.set]
    out = ca.child_result(cmd, env=env)
    samples = out["samples"]
    run = {"command": "python benchmarks/train_memory.py " + " ".join(sys.argv[1:]), "malloc": MALLOC[args.malloc], "trim_every": args.trim_every,
           "config": args.config, "dataset": args.dataset, "steps": args.steps, "settings": args.set,
           "rss_after_init_mib": samples[0]["VmRSS"],
           "rss_at_steps_mib": {s["step"]: s["VmRSS"] for s in samples if s["phase"] == "train"},
           "peak_at_steps_mib": {s["step"]: s["VmHWM"] for s in samples if s["phase"] == "train"},
           "seconds_at_steps": {s["step"]: s["s"] for s in samples if s["phase"] == "train"},
           "other_phases": [s for s in samples if s["phase"] != "train"],
           "peak_before_test_mib": max(s["VmHWM"] for s in samples if s["phase"] != "test"),
           "peak_mib": samples[-1]["VmHWM"], "best_dev_triples_f": out["result"]["best_dev_triples_f"],
           **({"tracemalloc": out["traced"]} if out["traced"] else {})}
    out_file = ROOT / "benchmarks" / "results" / "train_memory.json"
    runs = json.loads(out_file.read_text())["runs"] if out_file.exists() else []
    payload = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}", "runs": runs + [run]}
    out_file.write_text(json.dumps(payload, indent=2))
    print(json.dumps(run, indent=1))


if __name__ == "__main__":
    main()
