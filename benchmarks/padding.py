"""How much of the encoder's input is padding under each training batcher (issue 43, goal 3).

    python benchmarks/padding.py [--datasets conll04 webnlg] [--config gp_transformer] [--epochs 5]
        [--buffers 1 8 32 128]

Counts MiniLM wordpieces per training sentence (the config's tokenizer, CLS and SEP included) and
walks ``--epochs`` epochs as spaCy's training loop does: shuffle, the batcher, then
``subdivide_batch`` (sorted by tokens, cut into ``accumulate_gradient`` sub-batches), each
sub-batch padded to its longest sentence. Reports padded / real wordpieces for the config's
``spacy.batch_by_sequence.v1`` and for ``spacy_triples.batch_by_length.v1`` with each buffer
(buffer 1 is batch_by_sequence with sorted batches). No timing: the ratio bounds what the encoder
can save, not what a step saves (benchmarks/step_time.py measures that). Appends to
benchmarks/results/padding.json.
"""
import argparse
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))


def padded_ratio(examples, pieces, batcher, accumulate: int, epochs: int) -> float:
    """Padded over real wordpieces, summed over ``epochs`` epochs; ``pieces`` maps id(example) to
    its wordpiece count."""
    from spacy.training.loop import subdivide_batch

    padded = real = 0
    random.seed(0)
    for _ in range(epochs):
        order = list(examples)
        random.shuffle(order)
        for batch in batcher(order):
            for sub in subdivide_batch(batch, accumulate):
                counts = [pieces[id(eg)] for eg in sub]
                padded += len(counts) * max(counts)
                real += sum(counts)
    return padded / real


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", nargs="+", default=["conll04", "webnlg"])
    parser.add_argument("--config", default="gp_transformer")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--buffers", nargs="+", type=int, default=[1, 8, 32, 128])
    args = parser.parse_args()
    if args.epochs < 1 or any(b < 1 for b in args.buffers):
        raise SystemExit("--epochs and every --buffers value must be at least 1")
    import spacy
    from spacy import util
    from spacy.training import Corpus
    from transformers import AutoTokenizer

    import compare_architectures as ca
    from spacy_triples.training.batching import configure_length_buckets

    entry = {"config": args.config, "epochs": args.epochs, "datasets": {}}
    for dataset in args.datasets:
        cfg, train, _ = ca.probe_config(args.config, dataset, [], 1)
        resolved = cfg.interpolate()
        name = util.registry.resolve({"n": resolved["components"]["transformer"]["model"]["name"]})["n"]
        tokenizer = AutoTokenizer.from_pretrained(name, use_fast=True)
        size = ca.probe_batch_size(resolved["training"])
        accumulate = resolved["training"]["accumulate_gradient"]
        examples = list(Corpus(train)(spacy.blank(cfg["nlp"]["lang"])))
        pieces = {id(eg): len(tokenizer(eg.reference.text)["input_ids"]) for eg in examples}
        row = {"sentences": len(examples), "batch_size": size, "accumulate_gradient": accumulate,
               "mean_wordpieces": round(sum(pieces.values()) / len(pieces), 2),
               "batch_by_sequence": round(padded_ratio(
                   examples, pieces, util.registry.batchers.get("spacy.batch_by_sequence.v1")(size=size),
                   accumulate, args.epochs), 4)}
        for buffer in args.buffers:
            row[f"batch_by_length_buffer_{buffer}"] = round(padded_ratio(
                examples, pieces, configure_length_buckets(size=size, buffer=buffer), accumulate, args.epochs), 4)
        entry["datasets"][dataset] = row
        print(dataset, row, flush=True)
    ca.append_measurement("padding", entry, machine=ca.cpu_name())


if __name__ == "__main__":
    main()
