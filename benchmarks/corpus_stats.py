"""What a dataset's gold triples hold that bounds a model (issue 40): pairs with several relations
and entities with no letter or digit.

    python benchmarks/corpus_stats.py [--datasets webnlg webnlg_star conll04]

For each split of each dataset (the converted corpus files that compare_architectures.py reads),
counts sentences, triples, relation types, the triples whose (subject, object) pair carries another
relation too (a decoder that keeps one relation per pair, ``max_relations_per_pair = 1``, can get
at most one of each such group right), those groups, and the triples with an entity that has no
letter or digit (WebNLG's "``", a leftover of the release's entity matching, that no tokenizer
keeps as an entity of its own). For the dev and test splits it also counts how many entity mentions
(the subjects and objects of the gold triples) have a text, as written, that is an entity in the
training split (``seen_in_train``): how far a model can get by learning the names themselves.
Appends to benchmarks/results/corpus_stats.json.
"""
import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, Iterable, Set, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

# (subject text, subject start, subject end, relation, object text, object start, object end)
Triple = Tuple[str, int, int, str, str, int, int]


def _percent(n: int, total: int) -> float:
    return round(100 * n / total, 2) if total else 0.0


def has_word_character(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def triple_stats(docs: Iterable[Set[Triple]]) -> Dict[str, object]:
    """Counts over the gold triples of each sentence (character offsets tell entities apart)."""
    sentences = triples = on_shared_pairs = shared_pairs = artifact = 0
    relations: Counter = Counter()
    for keys in docs:
        sentences += 1
        triples += len(keys)
        per_pair = Counter((k[1], k[2], k[5], k[6]) for k in keys)
        on_shared_pairs += sum(n for n in per_pair.values() if n > 1)
        shared_pairs += sum(1 for n in per_pair.values() if n > 1)
        artifact += sum(1 for k in keys if not has_word_character(k[0]) or not has_word_character(k[4]))
        relations.update(k[3] for k in keys)
    share = lambda n: _percent(n, triples)  # noqa: E731
    return {
        "sentences": sentences, "triples": triples, "relation_types": len(relations),
        "triples_on_a_pair_with_several_relations": on_shared_pairs,
        "share_on_a_pair_with_several_relations": share(on_shared_pairs),
        "pairs_with_several_relations": shared_pairs,
        # the most a one-relation-per-pair decoder can recall
        "recall_ceiling_one_relation_per_pair": share(triples - on_shared_pairs + shared_pairs),
        "triples_with_an_entity_without_letters_or_digits": artifact,
        "share_with_an_entity_without_letters_or_digits": share(artifact),
    }


def seen_in_train(train: Iterable[Set[Triple]], other: Iterable[Set[Triple]]) -> Dict[str, object]:
    """How many entity mentions of ``other`` (each triple's subject and object, one mention per
    distinct span of a sentence) have a text, case and all, that is an entity of a ``train`` triple;
    also over their distinct texts."""
    names = {text for keys in train for k in keys for text in (k[0], k[4])}
    texts = [m[0] for keys in other for m in {(k[0], k[1], k[2]) for k in keys} | {(k[4], k[5], k[6]) for k in keys}]
    seen = sum(t in names for t in texts)
    distinct = set(texts)
    return {
        "entity_mentions": len(texts),
        "entity_mentions_seen_in_train": seen,
        "share_of_entity_mentions_seen_in_train": _percent(seen, len(texts)),
        "distinct_entity_texts": len(distinct),
        "share_of_distinct_entity_texts_seen_in_train": _percent(len(distinct & names), len(distinct)),
    }


def doc_triples(doc) -> Set[Triple]:
    """The scorer's character-offset keys of ``doc``'s triples, with each entity's text."""
    from spacy_triples.scorer import triple_keys

    return {(doc.text[s0:s1], s0, s1, rel, doc.text[o0:o1], o0, o1) for s0, s1, rel, o0, o1 in triple_keys(doc)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", nargs="+", default=["webnlg", "webnlg_star"])
    args = parser.parse_args()
    import spacy
    from spacy.tokens import DocBin

    import compare_architectures as ca

    nlp = spacy.blank("en")
    entry = {}
    for dataset in args.datasets:
        if dataset not in ca.DATASETS:
            sys.exit(f"Unknown dataset {dataset!r}: choose from {', '.join(ca.DATASETS)}")
        entry[dataset] = {}
        splits = {}
        for split, name in zip(("train", "dev", "test"), ca.DATASETS[dataset]):
            path = ca.CORPUS / f"{name}.spacy"
            if not path.exists():
                sys.exit(f"{path} not found: run `python benchmarks/convert_datasets.py` first")
            splits[split] = [doc_triples(doc) for doc in DocBin().from_disk(path).get_docs(nlp.vocab)]
            entry[dataset][split] = triple_stats(splits[split])
        for split in ("dev", "test"):
            entry[dataset][split].update(seen_in_train(splits["train"], splits[split]))
    print(json.dumps(entry, indent=1))
    ca.append_measurement("corpus_stats", {"datasets": entry}, machine=ca.cpu_name())


if __name__ == "__main__":
    main()
