"""Does the last-word score (triples_last_word_*) agree with the WebNLG* protocol? (issue 40)

    python benchmarks/last_word_agreement.py

WebNLG* (CasRel's partial-match WebNLG, TPLinker's "WebNLG*") annotates the last word of each
entity, and CasRel and TPLinker compare (subject, relation, object) strings per sentence. Checks:
(1) WebNLG* gold scored against itself in last-word mode is 100; (2) the exact WebNLG gold of the
same sentences (whole entities), scored against WebNLG* gold in last-word mode: how far apart the
two releases are. They were made apart (216 against 171 relations; the exact release drops triples
whose entities are not in the text verbatim, e.g. "test pilot" for "pilot"), so (2) is far from
100 by annotation, not by the scorer: the first mismatches are listed for a reader to check.
Needs the converted corpora (benchmarks/convert_datasets.py).
Writes benchmarks/results/last_word_agreement.json.
"""
import json
import sys
import time
from pathlib import Path

import spacy
from spacy.tokens import DocBin
from spacy.training import Example

sys.path.insert(0, str(Path(__file__).parent))
from compare_architectures import CORPUS, ROOT, cpu_name, write_json_atomic  # noqa: E402

from spacy_triples.scorer import last_word_triple_keys, score_triples  # noqa: E402


def load(name):
    nlp = spacy.blank("en")
    return list(DocBin().from_disk(CORPUS / f"{name}.spacy").get_docs(nlp.vocab))


def main():
    out = {"command": "python benchmarks/last_word_agreement.py", "machine": cpu_name(), "date": time.strftime("%Y-%m-%d"), "splits": {}}
    for split in ("test", "val"):
        star = load(f"webnlg_star__{split}_triples.json")
        exact = {d.text: d for d in load(f"webnlg__{split}_triples.json")}
        self_scores = score_triples([Example(d, d) for d in star])
        pairs = [(exact[d.text], d) for d in star if d.text in exact]
        cross = score_triples([Example(e, s) for e, s in pairs])
        mismatches = []
        for e, s in pairs:
            got, want = last_word_triple_keys(e), last_word_triple_keys(s)
            if got != want and len(mismatches) < 10:
                mismatches.append({"text": s.text, "exact_only": sorted(map(str, got - want)), "star_only": sorted(map(str, want - got))})
        out["splits"][split] = {
            "star_docs": len(star), "matched_docs": len(pairs),
            "star_gold_against_itself_last_word_f": round(100 * self_scores["triples_last_word_f"], 2),
            "exact_gold_against_star_gold": {k: round(100 * cross[k], 2) for k in (
                "triples_last_word_p", "triples_last_word_r", "triples_last_word_f", "triples_f")},
            "first_mismatches": mismatches,
        }
        print(split, json.dumps(out["splits"][split], ensure_ascii=False)[:600])
    write_json_atomic(ROOT / "benchmarks" / "results" / "last_word_agreement.json", out)


if __name__ == "__main__":
    main()
