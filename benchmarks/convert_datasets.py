"""Convert every standard dataset file in ../shared/data and record the accounting and the time.

    python benchmarks/convert_datasets.py [--data ../shared/data] [--output corpus/converted]

Writes benchmarks/results/convert.json and prints a markdown table.
"""
import argparse
import json
import platform
import time
from pathlib import Path

from spacy_triples.cli import convert

FILES = [
    ("webnlg/train_triples.json", "casrel", None),
    ("webnlg/val_triples.json", "casrel", None),
    ("webnlg/test_triples.json", "casrel", None),
    ("webnlg_star/train_triples.json", "casrel", None),
    ("webnlg_star/val_triples.json", "casrel", None),
    ("webnlg_star/test_triples.json", "casrel", None),
    ("conll04/unified_format/train.CoNLL04.json", "unified", None),
    ("conll04/unified_format/valid.CoNLL04.json", "unified", None),
    ("conll04/unified_format/test.CoNLL04.json", "unified", None),
    ("scierc/spert_format/scierc_joint_er_train.json", "spert", None),
    ("scierc/spert_format/scierc_joint_er_dev.json", "spert", None),
    ("scierc/spert_format/scierc_joint_er_test.json", "spert", None),
    ("duie2/duie_train_5000.json", "duie", "duie2/duie_schema.json"),
    ("duie2/duie_dev_2000.json", "duie", "duie2/duie_schema.json"),
    ("lic2019_duie1/train_data_2000.json", "duie", "lic2019_duie1/all_50_schemas"),
    ("lic2019_duie1/dev_data_200.json", "duie", "lic2019_duie1/all_50_schemas"),
]
# WebNLG with its triples' subjects and objects listed as the docs' entities (``convert
# --entities-from-triples``), so a GlobalPointer's mention maps learn them: written as
# corpus/converted/webnlg_entities__*.spacy (compare_architectures.py --datasets webnlg_entities)
WEBNLG = ("train_triples.json", "val_triples.json", "test_triples.json")
VARIANTS = [(f"webnlg/{name}", "casrel", None, "webnlg_entities", {"entities_from_triples": True}) for name in WEBNLG]
# WebNLG with each string triple at every pair of its strings' occurrences (``convert
# --every-occurrence``, as TPLinker builds its training data), not only the nearest pair:
# corpus/converted/webnlg_every__*.spacy (compare_architectures.py --datasets webnlg_every)
VARIANTS += [(f"webnlg/{name}", "casrel", None, "webnlg_every", {"every_occurrence": True}) for name in WEBNLG]
# DuIE 2.0 the same way (Chinese names recur within a sentence): duie2_every__*.spacy
VARIANTS += [(f"duie2/{name}", "duie", "duie2/duie_schema.json", "duie2_every", {"every_occurrence": True})
             for name in ("duie_train_5000.json", "duie_dev_2000.json")]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(Path(__file__).parent.parent.parent / "shared" / "data"))
    parser.add_argument("--output", default="corpus/converted")
    args = parser.parse_args()
    data, out = Path(args.data), Path(args.output)
    results = []
    for rel, fmt, schema, variant, options in [(*f, None, {}) for f in FILES] + VARIANTS:
        start = time.perf_counter()
        name = f"{variant}__{Path(rel).name}" if variant else rel.replace("/", "__")
        report = convert(str(data / rel), str(out / (name + ".spacy")), fmt=fmt,
                         schema=str(data / schema) if schema else None, **options)
        results.append({"file": rel, **({"variant": variant} if variant else {}), "format": fmt,
                        "seconds": round(time.perf_counter() - start, 2), **report.as_dict()})
    Path(__file__).parent.joinpath("results").mkdir(exist_ok=True)
    payload = {"machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}",
               "results": results}
    Path(__file__).parent.joinpath("results", "convert.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False))
    # entity mentions (every entity a format lists, in a triple or not: doc.spans["entities"]) are
    # counted for the formats that list them (unified, spert); "-" for the others
    print("| file | records | docs | triples read | written | duplicates | entities read / written | skipped (kind, reason: n) | s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        # "triples skipped: reason" -> "triples, reason: n", so the kind of each skip stays visible
        skipped = "; ".join(f"{k.split(' skipped: ', 1)[0]}, {k.split(': ', 1)[1]}: {v}" for k, v in r.items()
                            if k.startswith(("triples skipped", "records skipped", "entities skipped")))
        entities = f"{r['entities read']} / {r['entities written']}" if "entities read" in r else "-"
        print(f"| {r['file']}{' (' + r['variant'] + ')' if 'variant' in r else ''} | {r['records read']} | {r['docs written']} | {r['triples read']} | {r['triples written']} "
              f"| {r['duplicate triples dropped']} | {entities} | {skipped or '-'} | {r['seconds']} |")


if __name__ == "__main__":
    main()
