"""Train and test each head/encoder combination within a fixed wall-clock budget (issue 4).

    python benchmarks/compare_architectures.py [--budget 300] [--datasets conll04 webnlg] \
        [--configs dgcnn pointer_dgcnn gp_transformer transformer] [--steps N] [--seeds 0 1 2] \
        [--set KEY=VALUE ...]

Needs the converted corpora (python benchmarks/convert_datasets.py) and static vectors for the
DGCNN configs (made here with spacy-triples init-vectors when missing). Each run is a separate
process (so peak memory is its own): it trains with spaCy's training loop until ``--budget``
seconds of wall time have passed (dev evaluations included), keeps the best dev checkpoint, then
scores the test set (overall, per overlap bucket), and times nlp.pipe over the test texts.
Writes benchmarks/results/architectures.json and prints a markdown table.
"""
import argparse
import hashlib
import json
import platform
import re
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus" / "converted"
DATASETS = {
    "conll04": ("conll04__unified_format__train.CoNLL04.json", "conll04__unified_format__valid.CoNLL04.json",
                "conll04__unified_format__test.CoNLL04.json"),
    "webnlg": ("webnlg__train_triples.json", "webnlg__val_triples.json", "webnlg__test_triples.json"),
    # WebNLG with each doc's triple entities listed (convert --entities-from-triples): the
    # GlobalPointer's mention maps learn them (role-free) and mention_decode reads them
    "webnlg_entities": ("webnlg_entities__train_triples.json", "webnlg_entities__val_triples.json",
                        "webnlg_entities__test_triples.json"),
    # WebNLG with every pair of a string triple's occurrences in train and dev (convert
    # --every-occurrence, TPLinker's training data); the test set is the standard one, so the
    # whole-text score (triples_text_f, the papers' measure) compares with every other WebNLG record
    "webnlg_every": ("webnlg_every__train_triples.json", "webnlg_every__val_triples.json",
                     "webnlg__test_triples.json"),
    "webnlg_star": ("webnlg_star__train_triples.json", "webnlg_star__val_triples.json", "webnlg_star__test_triples.json"),
    # Chinese: no test labels are public, so the dev set is scored (and also used for model selection)
    "duie2": ("duie2__duie_train_5000.json", "duie2__duie_dev_2000.json", "duie2__duie_dev_2000.json"),
    # DuIE with every pair of occurrences in train and in the dev copy that selects the model; scored
    # on the standard dev file (its whole-text score is the LIC's measure)
    "duie2_every": ("duie2_every__duie_train_5000.json", "duie2_every__duie_dev_2000.json", "duie2__duie_dev_2000.json"),
    "lic2019": ("lic2019_duie1__train_data_2000.json", "lic2019_duie1__dev_data_200.json", "lic2019_duie1__dev_data_200.json"),
    # the bundled CoNLL04 sample that scripts/main.sh converts to corpus/ (no test part: dev is scored)
    "sample": ("../train", "../dev", "../dev"),
}
SCHEMAS = {"duie2": "duie2/duie_schema.json", "duie2_every": "duie2/duie_schema.json",
           "lic2019": "lic2019_duie1/all_50_schemas"}
DATA = ROOT.parent / "shared" / "data"


def parse_settings(settings) -> dict:
    """``KEY=VALUE`` strings (the benchmarks' ``--set``) as config overrides: VALUE is read as JSON
    (``0.0002``, ``true``, ``null``, ``["a"]``) and kept as a string where it is not JSON, as spaCy's
    own command-line overrides do."""
    overrides = {}
    for setting in settings:
        key, sep, value = setting.partition("=")
        if not sep or not key:
            raise ValueError(f"--set takes KEY=VALUE (e.g. training.batcher.size=8), got {setting!r}")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides


def folder_tag(settings: list) -> str:
    """The part of a run's folder name that its ``--set`` overrides make: each override's last key
    and its value, with a JSON value's quotes, braces and @ turned into "_" (a name a shell and a
    path can hold); a tag over 120 characters (a whole section as JSON) is cut to 100 and ends with
    a hash of the whole, so every setting still gets its own folder within the 255-byte name limit."""
    tag = "-".join(x.partition("=")[0].rsplit(".", 1)[-1] + "_"
                   + re.sub(r"[^A-Za-z0-9._-]+", "_", x.partition("=")[2]).strip("_") for x in settings)
    if len(tag) > 120:
        tag = tag[:100] + "-" + hashlib.sha1(tag.encode("utf8")).hexdigest()[:12]
    return tag


def results_payload(previous: dict, results: list, command: str, machine: str, summaries: list) -> dict:
    """architectures.json after a command: its ``results`` (every run so far), this command and its
    seed summaries on top, the previous command's summaries appended to ``earlier_commands``, and
    any other key of ``previous`` kept as it was (results added by hand, e.g. ``six_seeds``). The
    lab log of dropped ablations is ``benchmarks/results/lab_log.json``, which no script writes."""
    # one entry per command, its latest summaries, never the command on top: the file is rewritten
    # after every run, and two commands side by side take turns on top
    earlier = [c for c in previous.get("earlier_commands", []) if c.get("command") not in (previous.get("command"), command)]
    if previous.get("command") and previous["command"] != command:
        earlier.append({"command": previous["command"], "seed_summaries": previous.get("seed_summaries", [])})
    kept = {k: v for k, v in previous.items()
            if k not in ("machine", "command", "results", "seed_summaries", "earlier_commands")}
    return {"machine": machine, "command": command, "results": results, "seed_summaries": summaries,
            "earlier_commands": earlier, **kept}


def save_pipeline(nlp, path: Path, optimizer) -> None:
    """Save ``nlp`` with the weights dev is scored with, as ``spacy train`` saves model-best: the
    optimizer's moving averages where it keeps them (``use_averages = true``; PyTorch weights too
    with ``spacy_triples.torch_averages.v1``), else the weights as they are."""
    with nlp.use_params(optimizer.averages):
        nlp.to_disk(path)


def git_commit():
    """The short hash of the checkout's HEAD (the code and configs a run used), or None outside a
    git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    except OSError:
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def cpu_name() -> str:
    """lscpu's model name (the CPU a timing was measured on), else platform's processor."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def curve_path(name, seed=None):
    """benchmarks/results/NAME.json (NAME-seedN.json for one seed of several), or None."""
    if not name:
        return None
    return ROOT / "benchmarks" / "results" / f"{name}{'' if seed is None else f'-seed{seed}'}.json"


def write_json_atomic(path: Path, payload) -> None:
    """Write ``payload`` as JSON through a temporary file and a rename (a reader never sees half)."""
    from spacy_triples.safe_io import write_text

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(payload, indent=2))


def add_result(out_file: Path, result: dict, command: str, machine: str, summaries: list) -> dict:
    """Add ``result`` to the results file and return what was written. The file is read again under
    an exclusive lock just before the write, so two runs side by side each add their results (a
    copy read at the start would drop the other run's); a rerun replaces the earlier result of the
    same settings, seed, clock, schedule and commit. The settings name the command line's overrides,
    not the config file, so a run of the same command at another commit (a changed config) is added
    beside the earlier one, never over it; results written before results had a commit are only
    ever replaced by results without one."""
    import fcntl

    def key(r):
        return r["config"], r["dataset"], r.get("seed"), r.get("budget_s"), r.get("max_steps"), r.get("commit")

    out_file.parent.mkdir(parents=True, exist_ok=True)
    with open(out_file.parent / f".{out_file.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        previous = json.loads(out_file.read_text()) if out_file.exists() else {}
        results = [r for r in previous.get("results", []) if key(r) != key(result)] + [result]
        payload = results_payload(previous, results, command, machine, summaries)
        write_json_atomic(out_file, payload)
    return payload


def append_measurement(name: str, entry: dict, machine: str = None) -> None:
    """Append ``entry`` (with machine, the command line and the date) to the ``measurements`` of
    ``benchmarks/results/{name}.json``, keeping the earlier ones."""
    out_file = ROOT / "benchmarks" / "results" / f"{name}.json"
    old = json.loads(out_file.read_text())["measurements"] if out_file.exists() else []
    head = {"machine": machine or f"{platform.machine()}, python {platform.python_version()}",
            "command": "python " + " ".join(["benchmarks/" + Path(sys.argv[0]).name, *sys.argv[1:]]),
            "date": time.strftime("%Y-%m-%d")}
    write_json_atomic(out_file, {"measurements": old + [{**head, **entry}]})


def proc_memory_mib() -> dict:
    """This process's resident set (VmRSS) and its peak so far (VmHWM) in MiB, from /proc; {} off
    Linux (train_memory.py and batch_memory.py use it too)."""
    status = Path("/proc/self/status")
    if not status.exists():
        return {}
    fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
    return {k: round(int(fields[k].split()[0]) / 1024, 1) for k in ("VmRSS", "VmHWM")}


def memory_mib() -> dict:
    """``proc_memory_mib`` as the memory curve records it: rss and hwm."""
    memory = proc_memory_mib()
    return {"rss": memory["VmRSS"], "hwm": memory["VmHWM"]} if memory else {}


def child_result(cmd, env=None) -> dict:
    """Run a probe's child process (``cmd``) and return the JSON of its last ``RESULT`` line; stop
    with the child's stderr when it fails or prints none (batch_memory.py, cpu_autocast.py and
    train_memory.py run each measurement in its own process this way)."""
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    if proc.returncode or not lines:
        sys.exit(proc.stderr[-4000:])
    return json.loads(lines[-1][len("RESULT "):])


def config_path(config: str) -> Path:
    """``configs/CONFIG.cfg``, or ``config`` itself where it names a ``.cfg`` file (relative to the
    checkout), e.g. an experiment's config in benchmarks/configs/."""
    if config.endswith(".cfg"):
        path = Path(config)
        return path if path.is_absolute() else ROOT / path
    return ROOT / "configs" / f"{config}.cfg"


def probe_config(config: str, dataset: str, settings, threads: int):
    """Set torch's threads and load ``configs/CONFIG.cfg`` with the dataset's train and dev paths
    and the ``KEY=VALUE`` settings (JSON values), as the probes (batch_memory.py, cpu_autocast.py)
    do. Returns (config, train path, dev path)."""
    import torch
    from spacy import util

    torch.set_num_threads(threads)
    train, dev, _ = (str(CORPUS / f"{name}.spacy") for name in DATASETS[dataset])
    overrides = {"paths.train": train, "paths.dev": dev, **parse_settings(settings)}
    return util.load_config(config_path(config), overrides=overrides, interpolate=False), train, dev


def probe_batch_size(training) -> int:
    """The batch size the training probes use: the config's batcher size, or 16 where the config
    gives a schedule instead of a number."""
    size = training["batcher"]["size"]
    return size if isinstance(size, int) else 16


def probe_batches(nlp, train: str, steps: int):
    """What the training probes (cpu_autocast.py, train_step_profile.py) step through: seeds
    spaCy's RNGs, resolves the config's optimizer and returns (training config, optimizer,
    ``steps`` batches of the config's batch size from the shuffled training examples)."""
    import random

    from spacy import util
    from spacy.training import Corpus

    util.fix_random_seed(0)
    training = nlp.config.interpolate()["training"]
    optimizer = util.registry.resolve(training)["optimizer"]
    size = probe_batch_size(training)
    examples = list(Corpus(train)(nlp))
    random.Random(0).shuffle(examples)
    return training, optimizer, [examples[(i * size) % len(examples):][:size] for i in range(steps)]


def probe_step(nlp, batch, training, optimizer) -> dict:
    """One optimizer step as spaCy's train_while_improving takes it (``accumulate_gradient``
    sub-batches, then every trainable component's finish_update); returns the losses."""
    from spacy.training.loop import subdivide_batch

    losses = {}
    for sub in subdivide_batch(batch, training["accumulate_gradient"]):
        nlp.update(sub, drop=training["dropout"], sgd=False, losses=losses)
    for _, proc in nlp.pipeline:
        if getattr(proc, "is_trainable", False) and proc.model not in (True, False, None):
            proc.finish_update(optimizer)
    optimizer.step_schedules()
    return losses


def curve_point(step: int, seconds: float, dev: dict, test: dict) -> dict:
    """One point of a learning curve: the step, training minutes so far (dev and test scoring
    included), and dev and test P/R/F1 (exact, strict and last-word) in percent."""
    keys = ("triples_p", "triples_r", "triples_f", "triples_strict_f", "triples_last_word_f")
    return {"step": step, "minutes": round(seconds / 60, 2),
            "dev": {k: round(100 * (dev.get(k) or 0.0), 2) for k in keys},
            "test": {k: round(100 * (test.get(k) or 0.0), 2) for k in keys}}


def foreign_score_weights(nlp, weights: Dict[str, Optional[float]]) -> List[str]:
    """The score keys with a weight in the training's selection score that no triple extractor of
    ``nlp`` writes (another component's own scorer, e.g. an entity_ruler's ``ents_f``): they enter
    the dev score the harness records and the choice of model-best."""
    own = set()
    for name in nlp.pipe_names:
        meta = nlp.get_pipe_meta(name)
        if meta.factory == "triple_extractor":
            own.update(meta.default_score_weights)
    return sorted(key for key, weight in weights.items() if weight and key not in own)


def run_one(config: str, dataset: str, budget: float, out: Path, vectors: Path, threads: int, settings=(), steps=None,
            on_step=None, tune=False, gpu_id: int = -1, train_dev: bool = False, curve_file: Path = None) -> dict:
    """Train one configuration on one dataset, score its test set. ``on_step(step, phase)`` is
    called after initialisation (step 0, "init"), after every training step ("train") and after
    loading the best model and scoring the test set ("test") (benchmarks/train_memory.py uses it).
    ``tune``: also sweep thresholds on the dev set (spacy-triples tune-thresholds), one for all
    relations ("global") and one per relation ("per_relation"), and score the test set again with
    each ("test_tuned_thresholds"). ``gpu_id`` >= 0 trains and predicts on that GPU
    (scripts/gpu_wheels.sh runs this on the device machine). ``train_dev``: train on the train and
    dev splits together, as published CoNLL04 numbers do, with no dev evaluation and no model
    selection: the model at the end of the budget is tested. ``curve_file``: also score the test set
    at every dev evaluation (with the weights dev sees) and rewrite this JSON file after each one,
    so a run that is stopped keeps its learning curve so far."""
    import spacy
    import torch
    from spacy import util
    from spacy.schemas import ConfigSchemaTraining
    from spacy.training import Corpus
    from spacy.training.initialize import init_nlp
    from spacy.training.loop import create_evaluation_callback, create_train_batches, train_while_improving
    from spacy.util import registry, resolve_dot_names

    torch.set_num_threads(threads)
    if gpu_id >= 0:
        from thinc.api import require_gpu

        require_gpu(gpu_id)
    train, dev, test = (str(CORPUS / f"{name}.spacy") for name in DATASETS[dataset])
    if train_dev:
        if tune:
            raise ValueError("--train-dev trains on the dev split, so dev cannot tune thresholds: drop --tune-thresholds")
        from spacy.tokens import DocBin

        merged = DocBin(store_user_data=True)
        for path in (train, dev):
            merged.merge(DocBin(store_user_data=True).from_disk(path))
        out.mkdir(parents=True, exist_ok=True)
        train = str(out / "train_dev.spacy")
        merged.to_disk(train)
    overrides = {"paths.train": train, "paths.dev": dev, "training.max_steps": 100_000, "training.max_epochs": 0,
                 "training.eval_frequency": 200, "training.patience": 0}
    if "transformer" in config:
        # fit the warm-up/linear-decay schedule to what a CPU budget allows (--steps, else about
        # 1 step/s); the configs' own schedule (250 warm-up steps at 5e-5) assumes thousands of GPU steps
        n = int(steps or budget)
        overrides.update({"training.max_steps": n, "training.eval_frequency": max(n // 4, 20),
                          "training.optimizer.learn_rate.warmup_steps": max(n // 10, 1),
                          "training.optimizer.learn_rate.initial_rate": 0.0001})
    elif steps:
        overrides.update({"training.max_steps": int(steps)})
    if gpu_id >= 0:
        overrides["system.gpu_allocator"] = "pytorch"
    overrides.update(parse_settings(settings))
    if train_dev:  # no evaluation on a split the model trains on
        overrides["training.eval_frequency"] = 10 ** 9
    path = config_path(config)
    cfg = util.load_config(path, overrides=overrides, interpolate=False)
    if "vectors" in cfg["paths"] and "transformer" not in config and not config.startswith("zh"):
        cfg["paths"]["vectors"] = str(vectors)
    if dataset in SCHEMAS and "schema" in cfg["paths"]:
        cfg["paths"]["schema"] = str(DATA / SCHEMAS[dataset])
    start = time.perf_counter()
    nlp = init_nlp(cfg)
    init_seconds = time.perf_counter() - start
    report = on_step or (lambda step, phase: None)
    report(0, "init")
    config_i = nlp.config.interpolate()
    util.fix_random_seed(config_i["training"]["seed"])
    T = registry.resolve(config_i["training"], schema=ConfigSchemaTraining)
    train_corpus, dev_corpus = resolve_dot_names(config_i, [T["train_corpus"], T["dev_corpus"]])
    foreign = foreign_score_weights(nlp, T["score_weights"])
    if foreign:
        print(f"WARNING: the model selection score also weighs {', '.join(foreign)}, which the triple extractor "
              "does not write: set their weights to null in [training.score_weights] so that model-best and "
              "the dev score follow the triples alone", file=sys.stderr)
    evaluate = create_evaluation_callback(nlp, dev_corpus, T["score_weights"])
    eval_seconds = [0.0]
    learning_curve = []
    test_examples = list(Corpus(test)(nlp)) if curve_file else None

    def timed_evaluate():
        t = time.perf_counter()
        result = evaluate()
        if curve_file:
            # called by spaCy's loop inside nlp.use_params(averages): the test set sees the same weights
            point = curve_point(step_now[0], time.perf_counter() - train_start, result[1], nlp.evaluate(test_examples))
            learning_curve.append(point)
            write_json_atomic(curve_file, {"config": config + "".join(f" [{x}]" for x in settings), "dataset": dataset,
                                           "max_steps": T["max_steps"], "seed": T["seed"], "finished": False,
                                           "command": "python benchmarks/compare_architectures.py " + " ".join(sys.argv[1:]),
                                           "machine": cpu_name(), "learning_curve": learning_curve})
            print("CURVE " + json.dumps(point), flush=True)
        eval_seconds[0] += time.perf_counter() - t
        return result

    steps = train_while_improving(
        nlp, T["optimizer"], create_train_batches(nlp, train_corpus, T["batcher"], T["max_epochs"]), timed_evaluate,
        dropout=T["dropout"], accumulate_gradient=T["accumulate_gradient"], patience=T["patience"],
        max_steps=T["max_steps"], eval_frequency=T["eval_frequency"], exclude=T["frozen_components"],
        annotating_components=T["annotating_components"], before_update=T["before_update"],
    )
    best_dir = out / "model-best"
    out.mkdir(parents=True, exist_ok=True)
    best_dev, info, step = None, {}, 0
    step_now = [0]
    train_start = time.perf_counter()
    curve = []  # resident and peak memory every 50 steps and after each new best checkpoint
    dev_curve = []  # dev P/R/F1 at every evaluation: where a run peaks, and whether it overfits
    for _, info, is_best in steps:
        step = info["step"]
        step_now[0] = step + 1  # the step the next evaluation follows
        report(step, "train")
        if len(info.get("checkpoints") or ()) > len(dev_curve):
            other = info.get("other_scores") or {}
            dev_curve.append({"step": step, **{k: round(100 * (other.get(k) or 0.0), 2) for k in (
                "triples_p", "triples_r", "triples_f", "triples_strict_f")},
                              "train_loss": round(float((info.get("losses") or {}).get("triple_extractor", 0.0)), 3)})
        if is_best:
            best_dev = info["score"]
            save_pipeline(nlp, best_dir, T["optimizer"])
        if step % 50 == 0 or is_best:
            curve.append({"step": step, "best": bool(is_best), **memory_mib()})
        if time.perf_counter() - train_start > budget:
            break
    train_seconds = time.perf_counter() - train_start
    if train_dev:
        best_dir = out / "model-last"
        save_pipeline(nlp, best_dir, T["optimizer"])
    # peak resident memory of training alone (the test phase below loads a second pipeline)
    peak_train = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    words = info.get("words", 0)
    best = spacy.load(best_dir)
    examples = list(Corpus(test)(best))
    scores = best.evaluate(examples)
    report(step, "test")
    texts = [eg.reference.text for eg in examples]
    n_words = sum(len(eg.reference) for eg in examples)
    list(best.pipe(texts[:32]))  # warm-up
    t = time.perf_counter()
    list(best.pipe(texts, batch_size=64))
    infer_seconds = time.perf_counter() - t
    tuned = None
    if tune:
        from spacy_triples.training.thresholds import tune_thresholds

        dev_examples = list(Corpus(dev)(best))
        tuned = {}
        # one threshold for all relations first, then one per relation (each replaces the other)
        for mode, per_relation, setting in (("global", False, "threshold"), ("per_relation", True, "thresholds")):
            t = time.perf_counter()
            sweep = tune_thresholds(best, dev_examples, per_relation=per_relation)
            tuned_scores = best.evaluate(examples)
            tuned[mode] = {
                setting: sweep[setting],
                "dev_f_before": round(100 * sweep["f1_before"], 2), "dev_f_after": round(100 * sweep["f1_after"], 2),
                "seconds": round(time.perf_counter() - t, 1),
                **{k: round(100 * (tuned_scores.get(k) or 0.0), 2) for k in ("triples_strict_p", "triples_strict_r", "triples_strict_f")}}
    overlap = {k: {m: round(100 * v[m], 2) for m in ("p", "r", "f")} for k, v in (scores.get("triples_per_overlap") or {}).items()}
    return {
        "config": config + "".join(f" [{x}]" for x in settings) + (" [train+dev]" if train_dev else ""),
        "dataset": dataset, "trained_on": "train+dev, last model" if train_dev else "train, best dev", "budget_s": budget,
        "max_steps": T["max_steps"], "seed": T["seed"], "steps": step, "epochs": info.get("epoch"),
        "init_s": round(init_seconds, 1), "train_s": round(train_seconds, 1), "dev_eval_s": round(eval_seconds[0], 1),
        "best_dev_triples_f": None if train_dev else round(100 * (best_dev or 0.0), 2),
        "test": {k: round(100 * (scores.get(k) or 0.0), 2) for k in (
            "triples_p", "triples_r", "triples_f", "triples_strict_p", "triples_strict_r", "triples_strict_f",
            "triples_text_p", "triples_text_r", "triples_text_f",
            "triples_last_word_p", "triples_last_word_r", "triples_last_word_f")},
        "test_macro_f": round(100 * sum(v["f"] for v in (scores.get("triples_per_type") or {}).values())
                              / max(len(scores.get("triples_per_type") or {}), 1), 2),
        "test_per_overlap": overlap,
        "train_words_per_s": round(words / max(train_seconds - eval_seconds[0], 1e-9), 1),
        "infer_words_per_s": round(n_words / infer_seconds, 1),
        "peak_rss_train_mib": round(peak_train, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "memory_curve_mib": curve,
        "dev_curve": dev_curve,
        "torch_threads": threads, "device": f"gpu {gpu_id}" if gpu_id >= 0 else "cpu",
        **({"test_tuned_thresholds": tuned} if tuned else {}),
        **({"learning_curve": learning_curve} if curve_file else {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=float, default=300.0, help="training wall seconds per run")
    parser.add_argument("--datasets", nargs="+", default=["conll04", "webnlg"])
    parser.add_argument("--configs", nargs="+", default=["dgcnn", "pointer_dgcnn", "gp_transformer", "transformer"],
                        help="names in configs/ (without .cfg), or paths of .cfg files (e.g. benchmarks/configs/...)")
    parser.add_argument("--steps", type=int, default=None,
                        help="max training steps (the schedule's length); transformer configs default to --budget "
                             "(about 1 step/s on 2 cores). Training stops at the budget or the steps, whichever comes first")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--gpu-id", type=int, default=-1, help="train on this GPU (default: CPU)")
    parser.add_argument("--work", default=str(ROOT / "training" / "bench"))
    parser.add_argument("--set", nargs="*", default=[], help="config overrides, e.g. components.triple_extractor.typed_entities=false")
    parser.add_argument("--seeds", nargs="+", type=int, default=None,
                        help="run each configuration once per seed (system.seed) and report mean, min and max")
    parser.add_argument("--one", nargs=2, metavar=("CONFIG", "DATASET"), help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--tune-thresholds", action="store_true",
                        help="after training, tune per-relation thresholds on dev and score the test set again")
    parser.add_argument("--curve", default=None, metavar="NAME",
                        help="also score the test set at every dev evaluation and write the learning curve, as it "
                             "goes, to benchmarks/results/NAME.json (NAME-seedN.json with --seeds)")
    parser.add_argument("--train-dev", action="store_true",
                        help="train on train + dev (as published numbers do), no dev evaluation; test the last model")
    args = parser.parse_args()
    try:  # a malformed --set fails here, once, not in every child run
        parse_settings(args.set)
    except ValueError as err:
        parser.error(str(err))
    work = Path(args.work)
    vectors = work / "vectors"
    if args.one:
        config, dataset = args.one
        # the folder name: each override's last key and its value, with a JSON value's quotes,
        # braces and @ turned into "_" (a name a shell and a path can hold)
        tag = folder_tag(args.set)
        if args.train_dev:
            tag += f"{'-' if tag else ''}train_dev"
        # the schedule and the clock too: a fixed-step run and a budget run of the same settings
        # are different models and must not share (and overwrite) one folder
        tag += f"{'-' if tag else ''}b{args.budget:g}" + (f"-s{args.steps}" if args.steps else "")
        if args.seed is not None:
            tag += f"{'-' if tag else ''}seed{args.seed}"
            args.set = [*args.set, f"system.seed={args.seed}"]
        result = run_one(config, dataset, args.budget, work / f"{dataset}-{Path(config).stem}{'-' + tag if tag else ''}", vectors,
                         args.threads, args.set, args.steps, tune=args.tune_thresholds, gpu_id=args.gpu_id,
                         train_dev=args.train_dev, curve_file=curve_path(args.curve, args.seed))
        if args.curve:
            final = json.loads(curve_path(args.curve, args.seed).read_text())
            write_json_atomic(curve_path(args.curve, args.seed), {**final, "finished": True, "result": result})
        if args.seed is not None:  # the seed is its own field: runs of one configuration share a name
            result["config"] = result["config"].replace(f" [system.seed={args.seed}]", "")
        print("RESULT " + json.dumps(result))
        return
    for name in args.datasets:
        train = DATASETS[name][0]
        if not (CORPUS / f"{train}.spacy").exists():
            sys.exit(f"Missing {CORPUS / train}.spacy: run python benchmarks/convert_datasets.py first.")
    if not vectors.exists():
        subprocess.run([sys.executable, "-m", "spacy_triples", "init-vectors", str(vectors)], check=True)
    out_file = ROOT / "benchmarks" / "results" / "architectures.json"
    command = "python benchmarks/compare_architectures.py " + " ".join(sys.argv[1:])
    machine = f"{platform.machine()}, {__import__('os').cpu_count()} cores, python {platform.python_version()}"
    commit = git_commit()
    this_command = []
    for dataset in args.datasets:
        for config, seed in ((c, s) for c in args.configs for s in (args.seeds or [None])):
            proc = subprocess.run([sys.executable, __file__, "--one", config, dataset, "--budget", str(args.budget),
                                   "--threads", str(args.threads), "--work", str(work), "--gpu-id", str(args.gpu_id),
                                   *(["--steps", str(args.steps)] if args.steps else []),
                                   *(["--seed", str(seed)] if seed is not None else []),
                                   *(["--tune-thresholds"] if args.tune_thresholds else []),
                                   *(["--train-dev"] if args.train_dev else []),
                                   *(["--curve", args.curve] if args.curve else []), "--set", *args.set],
                                  capture_output=True, text=True)
            lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
            if proc.returncode or not lines:
                print(proc.stdout[-2000:], proc.stderr[-4000:], file=sys.stderr)
                name = config + "".join(f" [{x}]" for x in args.set) + (" [train+dev]" if args.train_dev else "")
                result = {"config": name, "dataset": dataset, "error": proc.stderr.strip().splitlines()[-1:]}
            else:
                result = json.loads(lines[-1][len("RESULT "):])
            result["commit"] = commit
            result["cpu"] = cpu_name()  # lscpu's model name: timings and last-bit float results depend on it
            this_command.append(result)
            payload = add_result(out_file, result, command, machine, seed_summaries(this_command) if args.seeds else [])
            print(json.dumps(result), flush=True)
    print(table(payload["results"]))
    for summary in payload["seed_summaries"]:
        print(json.dumps(summary))


def _tuned(result, mode: str):
    """Test strict F1 after threshold tuning; older results hold only the per-relation one, flat."""
    tuned = result.get("test_tuned_thresholds") or {}
    if "triples_strict_f" in tuned:
        return tuned["triples_strict_f"] if mode == "per_relation" else None
    return (tuned.get(mode) or {}).get("triples_strict_f")


def seed_summaries(results) -> list:
    """Mean, min and max over the seeds of each (dataset, configuration) in ``results``."""
    groups: dict = {}
    for r in results:
        if "error" not in r:
            groups.setdefault((r["dataset"], r["config"]), []).append(r)
    out = []
    for (dataset, config), runs in groups.items():
        row = {"dataset": dataset, "config": config, "seeds": [r.get("seed") for r in runs]}
        for name, get in (("test_strict_f", lambda r: r["test"]["triples_strict_f"]), ("test_macro_f", lambda r: r["test_macro_f"]),
                          ("best_dev_triples_f", lambda r: r["best_dev_triples_f"]), ("train_s", lambda r: r["train_s"]),
                          ("peak_rss_mib", lambda r: r["peak_rss_mib"]), ("peak_rss_train_mib", lambda r: r.get("peak_rss_train_mib")),
            ("test_strict_f_tuned", lambda r: _tuned(r, "per_relation")),
            ("test_strict_f_tuned_global", lambda r: _tuned(r, "global"))):
            values = [v for v in map(get, runs) if v is not None]
            if not values:
                continue
            row[name] = {"mean": round(sum(values) / len(values), 2), "min": min(values), "max": max(values)}
        out.append(row)
    return out


def table(results) -> str:
    rows = ["| dataset | config | steps | test P | test R | test F1 | strict F1 | macro F1 | text F1 | normal F1 | SEO F1 | EPO F1 | train w/s | infer w/s | peak RSS MiB |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if "error" in r:
            rows.append(f"| {r['dataset']} | {r['config']} | error: {r['error']} |")
            continue
        o = r["test_per_overlap"]
        rows.append(f"| {r['dataset']} | {r['config']} | {r['steps']} | {r['test']['triples_p']} | {r['test']['triples_r']} | "
                    f"{r['test']['triples_f']} | {r['test']['triples_strict_f']} | {r.get('test_macro_f', '-')} | "
                    f"{r['test'].get('triples_text_f', '-')} | {o.get('normal', {}).get('f', '-')} | "
                    f"{o.get('shared_entity', {}).get('f', '-')} | {o.get('multi_relation', {}).get('f', '-')} | "
                    f"{r['train_words_per_s']} | {r['infer_words_per_s']} | {r['peak_rss_mib']} |")
    return "\n".join(rows)


if __name__ == "__main__":
    main()
