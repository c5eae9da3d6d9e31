"""Inference cost of the triple head against its encoder (issue 15), in one command:

    python benchmarks/inference_speed.py [--models training/bench] [--threads 2] [--docs 400]

Every figure is measured in its own process with ``--threads`` torch threads, on the first
``--docs`` WebNLG test sentences ``nlp.pipe`` with batch 64, best of 3:

* ratio: words/s of encoder + triple_extractor over words/s of the encoder alone (the same
  pipeline with only the encoder enabled), for MiniLM and DGCNN, each head, freshly initialised
  (the 216 relation labels of WebNLG's three splits, untrained) and trained (the pipelines that
  ``compare_architectures.py --one CONFIG webnlg`` saves under ``--models``; missing ones are
  reported as such). Goals: >= 0.90 with MiniLM, >= 0.50 with DGCNN.
* scaling: head milliseconds per document of untrained heads on the DGCNN encoder with 5, 50 and
  216 synthetic relation labels; the GlobalPointer as configs/dgcnn.cfg starts it (GlobalPointer.v2,
  priors -4), as GlobalPointer.v1 started it, saturated (every score passes: the worst case) and
  with v2's default priors (-8). Goal: at 216 labels at most 2x the time at 5.
* accuracy: test F1 of each trained GlobalPointer pipeline with the candidate-pair decoder
  (``GlobalPointerLinker.link``) and with the dense reference decoder it replaced
  (``reference_link`` of benchmarks/reference_decoder.py, which scores every position pair for
  every relation). Goal: within 0.3 F1.

Needs the converted WebNLG corpus (python benchmarks/convert_datasets.py). Writes
benchmarks/results/inference_speed.json and prints a markdown table.
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
CORPUS = ROOT / "corpus" / "converted"
TEST = CORPUS / "webnlg__test_triples.json.spacy"
# where a trained pipeline's own test texts are, by the dataset it was trained on
# (the bundled sample is part of CoNLL04's train and dev splits: its pipelines are timed and scored
# on the CoNLL04 test set)
CONLL04_TEST = CORPUS / "conll04__unified_format__test.CoNLL04.json.spacy"
TRAINED_TEST = {"webnlg": TEST, "conll04": CONLL04_TEST, "sample": CONLL04_TEST}
TRAIN = CORPUS / "webnlg__train_triples.json.spacy"
CONFIGS = {("transformer", "global_pointer"): "gp_transformer", ("transformer", "pointer"): "transformer",
           ("dgcnn", "global_pointer"): "dgcnn", ("dgcnn", "pointer"): "pointer_dgcnn"}
UPSTREAM = {"transformer": "transformer", "dgcnn": "tok2vec"}
GOALS = {"transformer": 0.90, "dgcnn": 0.50}


def _docs(path: Path, limit=None):
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    return list(DocBin().from_disk(path).get_docs(nlp.vocab))[:limit]


def _wps(nlp, texts, n_words, batch_size=64, repeats=3):
    list(nlp.pipe(texts[:batch_size], batch_size=batch_size))  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        list(nlp.pipe(texts, batch_size=batch_size))
        best = min(best, time.perf_counter() - start)
    return n_words / best


def fresh_pipeline(config: str, models: Path, labels=None, n_init: int = 64, model_settings=None):
    """A pipeline from configs/CONFIG.cfg initialised (not trained) on WebNLG training docs,
    with the 216 relation labels of WebNLG's train, dev and test sets (or ``labels``).
    ``model_settings`` override keys of the triple_extractor's model block."""
    import spacy
    from spacy.training import Example
    from thinc.api import Config

    cfg = Config().from_disk(ROOT / "configs" / f"{config}.cfg")
    model = cfg["components"]["triple_extractor"]["model"]
    for key, value in (model_settings or {}).items():  # None removes a key
        if value is None:
            model.pop(key, None)
        else:
            model[key] = value
    if "vectors" in cfg["paths"] and "transformer" not in config:
        cfg["paths"]["vectors"] = str(models / "vectors")
    nlp = spacy.util.load_model_from_config(cfg, auto_fill=True, validate=True)
    refs = _docs(TRAIN)
    if labels is None:
        everything = refs + _docs(TEST) + _docs(CORPUS / "webnlg__val_triples.json.spacy")
        labels = sorted({t.relation for d in everything for t in d._.triples})
    nlp.config["initialize"]["components"]["triple_extractor"] = {"labels": labels}
    nlp.config["initialize"]["vectors"] = cfg["paths"].get("vectors")
    examples = [Example(nlp.make_doc(d.text), d) for d in refs[:n_init]]
    nlp.initialize(lambda: examples)
    return nlp


def trained_path(models: Path, dataset: str, config: str):
    """The newest pipeline that ``compare_architectures.py --one CONFIG DATASET [--set ...]`` saved."""
    found = sorted(p for p in models.glob(f"{dataset}-{config}*/model-best")
                   if p.parent.name == f"{dataset}-{config}" or p.parent.name.startswith(f"{dataset}-{config}-"))
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def ratio(encoder: str, head: str, state: str, models: Path, n_docs: int, dataset: str = "webnlg") -> dict:
    """Words/s of encoder + triple_extractor over the encoder alone, same process, same batches."""
    import spacy

    config = CONFIGS[(encoder, head)]
    test = TEST
    if state == "trained":
        path = trained_path(models, dataset, config)
        if path is None:
            return {"error": f"no trained {config} pipeline for {dataset} under {models}: run python benchmarks/"
                             f"compare_architectures.py --one {config} {dataset}"}
        nlp = spacy.load(path)
        test = TRAINED_TEST[dataset]
    else:
        nlp = fresh_pipeline(config, models)
    docs = _docs(test, n_docs)
    texts, n_words = [d.text for d in docs], sum(len(d) for d in docs)
    full, alone = [], []
    for _ in range(2):  # interleaved, so that a slow phase of the machine hits both
        full.append(_wps(nlp, texts, n_words))
        with nlp.select_pipes(enable=[UPSTREAM[encoder]]):
            alone.append(_wps(nlp, texts, n_words))
    triples = sum(len(d._.triples) for d in nlp.pipe(texts, batch_size=64))
    pipe = nlp.get_pipe("triple_extractor")
    return {"encoder": encoder, "head": head, "state": state, "labels": len(pipe.labels), "docs": len(texts),
            "pipeline": str(path.parent.relative_to(ROOT)) if state == "trained" else f"configs/{config}.cfg (fresh)",
            "texts": test.name,
            "words": n_words, "triples_predicted": triples, "encoder_alone_wps": round(max(alone), 1),
            "full_wps": round(max(full), 1), "ratio": round(max(full) / max(alone), 3), "goal": GOALS[encoder]}


# the GlobalPointer states the label scaling is timed in: "fresh", as configs/dgcnn.cfg initialises
# it (GlobalPointer.v2, priors -4: nothing passes); "v1", as GlobalPointer.v1 initialised it (scores
# near 0, so how many spans pass depends on the random start); "saturated" (every score passes: each
# window at its caps, the worst case) and "v2" (GlobalPointer.v2's default priors, -8)
SCALING_STATES = {"global_pointer": ("fresh", "v1", "saturated", "v2"), "pointer": ("fresh",)}
STATE_SETTINGS = {
    "v1": {"@architectures": "spacy_triples.GlobalPointer.v1", "entity_prior": None, "relation_prior": None},
    "v2": {"@architectures": "spacy_triples.GlobalPointer.v2", "entity_prior": -8.0, "relation_prior": -8.0},
}


def scaling(head: str, n_labels: int, models: Path, n_docs: int, state: str = "fresh") -> dict:
    """Head ms per document (untrained head on the DGCNN encoder) with ``n_labels`` synthetic
    labels, in one of SCALING_STATES."""
    import torch

    nlp = fresh_pipeline(CONFIGS[("dgcnn", head)], models, labels=[f"rel_{i}" for i in range(n_labels)], n_init=8,
                         model_settings=STATE_SETTINGS.get(state) if head == "global_pointer" else None)
    if state == "saturated":
        linker = nlp.get_pipe("triple_extractor").model.get_ref("output_layer").layers[0].shims[0]._model
        with torch.no_grad():
            for pointer in (linker.entity, linker.head, linker.tail):
                pointer.bias.bias.fill_(50.0)
    docs = [nlp.make_doc(d.text) for d in _docs(TEST, n_docs)]
    pipe, tok2vec = nlp.get_pipe("triple_extractor"), nlp.get_pipe("tok2vec")
    list(pipe.pipe(tok2vec.pipe(docs[:64], batch_size=64), batch_size=64))  # warm-up
    best_encoder = best_head = float("inf")
    for _ in range(3):
        fresh = [nlp.make_doc(d.text) for d in docs]
        start = time.perf_counter()
        encoded = list(tok2vec.pipe(fresh, batch_size=64))
        best_encoder = min(best_encoder, time.perf_counter() - start)
        start = time.perf_counter()
        with torch.no_grad():
            done = list(pipe.pipe(encoded, batch_size=64))
        best_head = min(best_head, time.perf_counter() - start)
    return {"head": head, "state": state, "labels": n_labels, "docs": len(docs), "triples_predicted": sum(len(d._.triples) for d in done),
            "encoder_ms_per_doc": round(1000 * best_encoder / len(docs), 3),
            "head_ms_per_doc": round(1000 * best_head / len(docs), 3)}


def accuracy(config: str, models: Path, dataset: str = "webnlg") -> dict:
    """Test F1 of a trained GlobalPointer pipeline with the candidate-pair and the dense decoder."""
    import spacy
    from spacy.training import Example

    from reference_decoder import reference_link  # benchmarks/reference_decoder.py (the script's folder)
    from spacy_triples.heads.global_pointer.pytorch import GlobalPointerLinker

    path = trained_path(models, dataset, config)
    if path is None:
        return {"error": f"no trained {config} pipeline for {dataset} under {models}"}
    nlp = spacy.load(path)
    refs = _docs(TRAINED_TEST[dataset])
    result = {"config": config, "dataset": dataset, "pipeline": str(path.parent.relative_to(ROOT)), "docs": len(refs)}
    for name in ("candidate_pairs", "dense_reference"):
        if name == "dense_reference":
            GlobalPointerLinker.link = reference_link
        examples = [Example(nlp.make_doc(d.text), d) for d in refs]
        start = time.perf_counter()
        scores = nlp.evaluate(examples)
        result[name] = {"triples_f": round(100 * (scores["triples_f"] or 0.0), 2),
                        "triples_p": round(100 * (scores["triples_p"] or 0.0), 2),
                        "triples_r": round(100 * (scores["triples_r"] or 0.0), 2),
                        "triples_strict_f": round(100 * (scores["triples_strict_f"] or 0.0), 2),
                        "seconds": round(time.perf_counter() - start, 1)}
    result["f1_difference"] = round(result["candidate_pairs"]["triples_f"] - result["dense_reference"]["triples_f"], 2)
    return result


def _sub(args: argparse.Namespace, *call) -> dict:
    cmd = [sys.executable, __file__, "--threads", str(args.threads), "--models", str(args.models), "--docs", str(args.docs),
           "--trained-dataset", args.trained_dataset, "--call", *map(str, call)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    lines = [l for l in out.stdout.splitlines() if l.startswith("RESULT ")]
    if not lines:
        return {"call": list(call), "error": (out.stderr.strip().splitlines() or ["no output"])[-1]}
    result = json.loads(lines[-1][7:])
    print(json.dumps(result), file=sys.stderr, flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default=str(ROOT / "training" / "bench"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--docs", type=int, default=400)
    parser.add_argument("--only", nargs="*", default=["ratio", "scaling", "accuracy"])
    parser.add_argument("--states", nargs="*", default=["fresh", "trained"])
    parser.add_argument("--encoders", nargs="*", default=["transformer", "dgcnn"])
    parser.add_argument("--trained-dataset", default="webnlg", choices=sorted(TRAINED_TEST),
                        help="the dataset the trained pipelines were trained on (their test texts are timed)")
    parser.add_argument("--call", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    models = Path(args.models)
    if args.call:
        import torch

        torch.set_num_threads(args.threads)
        name, *rest = args.call
        if name == "ratio":
            result = ratio(rest[0], rest[1], rest[2], models, args.docs, args.trained_dataset)
        elif name == "scaling":
            result = scaling(rest[0], int(rest[1]), models, args.docs, rest[2] if len(rest) > 2 else "fresh")
        else:
            result = accuracy(rest[0], models, args.trained_dataset)
        print("RESULT " + json.dumps(result))
        return
    if not TEST.exists():
        sys.exit(f"Missing {TEST}: run python benchmarks/convert_datasets.py first.")
    if not (models / "vectors").exists():
        subprocess.run([sys.executable, "-m", "spacy_triples", "init-vectors", str(models / "vectors")], check=True)
    out_file = ROOT / "benchmarks" / "results" / "inference_speed.json"
    results = json.loads(out_file.read_text()) if out_file.exists() else {}
    results.update({"machine": f"{platform.machine()}, {os.cpu_count()} cores, torch threads {args.threads}, no GPU",
                    "command": "python benchmarks/inference_speed.py " + " ".join(sys.argv[1:])})
    if "ratio" in args.only:
        rows = [_sub(args, "ratio", enc, head, state) for enc in args.encoders
                for head in ("global_pointer", "pointer") for state in args.states]
        key = lambda r: (r.get("encoder"), r.get("head"), r.get("state"), r.get("texts"), r.get("labels"))  # noqa: E731
        keep = [r for r in results.get("ratio", []) if key(r) not in {key(n) for n in rows}]
        results["ratio"] = keep + rows
    if "scaling" in args.only:
        results["scaling"] = [_sub(args, "scaling", head, n, state) for head in ("global_pointer", "pointer")
                              for state in SCALING_STATES[head] for n in (5, 50, 216)]
    if "accuracy" in args.only:
        rows = [_sub(args, "accuracy", config) for config in ("gp_transformer", "dgcnn")]
        fresh = {(r.get("config"), r.get("dataset")) for r in rows}
        results["accuracy"] = [r for r in results.get("accuracy", []) if (r.get("config"), r.get("dataset")) not in fresh] + rows
    results.setdefault("commands", [])
    results["commands"] = [c for c in results["commands"] if c != results["command"]] + [results["command"]]
    out_file.write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(results))


def markdown(r: dict) -> str:
    lines = [f"Machine: {r['machine']}. Command: `{r['command']}`.", "",
             "| encoder | head | state | labels | encoder alone w/s | full w/s | ratio | goal |", "|---|---|---|---|---|---|---|---|"]
    for row in r.get("ratio", []):
        if "error" in row:
            lines.append(f"| {' '.join(row.get('call', [])[1:])} | error: {row['error']} | | | | | | |")
            continue
        ok = "met" if row["ratio"] >= row["goal"] else "**missed**"
        lines.append(f"| {row['encoder']} | {row['head']} | {row['state']} | {row['labels']} | {row['encoder_alone_wps']} | "
                     f"{row['full_wps']} | **{row['ratio']}** | >= {row['goal']} ({ok}) |")
    if r.get("scaling"):
        lines += ["", "| head (untrained, DGCNN) | state | labels | triples | encoder ms/doc | head ms/doc | x of 5 labels |",
                  "|---|---|---|---|---|---|---|"]
        base = {}
        for row in r["scaling"]:
            if "error" in row:
                lines.append(f"| {row.get('call')} | error: {row['error']} | | | | | |")
                continue
            group = (row["head"], row.get("state", "fresh"))
            base.setdefault(group, row["head_ms_per_doc"])
            lines.append(f"| {row['head']} | {group[1]} | {row['labels']} | {row['triples_predicted']} | {row['encoder_ms_per_doc']} | "
                         f"{row['head_ms_per_doc']} | {row['head_ms_per_doc'] / base[group]:.2f} (goal <= 2) |")
    if r.get("accuracy"):
        lines += ["", "| trained GlobalPointer (pipeline, test set) | test F1 candidate pairs | test F1 dense reference | difference |", "|---|---|---|---|"]
        for row in r["accuracy"]:
            if "error" in row:
                lines.append(f"| {row.get('call')} | error: {row['error']} | | |")
                continue
            lines.append(f"| {row['config']} (`{row['pipeline']}`, {TRAINED_TEST[row['dataset']].name}) | {row['candidate_pairs']['triples_f']} | "
                         f"{row['dense_reference']['triples_f']} | {row['f1_difference']} (goal within 0.3) |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
