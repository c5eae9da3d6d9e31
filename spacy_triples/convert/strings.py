"""Formats that give entities as strings: CasRel/PRGC JSON (WebNLG, NYT: {"text", "triple_list":
[[s, r, o]]}, text pre-tokenized with spaces) and DuIE 1.0 / 2.0 JSON lines ({"text", "spo_list"}).

Each entity string is looked up at every token-boundary occurrence; when a string occurs more than
once, the occurrence pair nearest to each other is taken (``base.place_pair``) and counted, or with
``every_occurrence`` every pair of occurrences (``base.every_pair``, as TPLinker builds its training
data), the added rows counted.
"""
import unicodedata
from pathlib import Path
from typing import Iterator, List, Optional, Set, Tuple

from spacy.language import Language
from spacy.tokens import Doc

from .base import (
    MALFORMED_TRIPLE,
    MISSING_RELATION,
    NOT_FOUND,
    UNKNOWN_RELATION,
    ConversionError,
    ConversionReport,
    every_pair,
    finish_doc,
    folded_occurrences,
    iter_records,
    normalised_occurrences,
    place_pair,
    relation_label,
    token_occurrences,
)


def _text(record, where: str, report: ConversionReport, list_key: str) -> Optional[str]:
    if not isinstance(record, dict) or "text" not in record or not isinstance(record.get(list_key, []), list):
        raise ConversionError(f"{where}: expected an object with 'text' and a '{list_key}' list, got {str(record)[:80]!r}.")
    text = record["text"]
    if not isinstance(text, str):
        raise ConversionError(f"{where}: 'text' must be a string, got {type(text).__name__} {text!r}.")
    if not text.strip():
        report.skip_record("empty text", where)
        return None
    return text


def fold_accents(text: str) -> Tuple[str, List[int]]:
    """``text`` without accents (NFKD, combining marks dropped), lowercased, without whitespace, and
    for each of its characters the index of the original character ("Cancún" -> "cancun")."""
    out, where = [], []
    for i, ch in enumerate(text):
        if ch.isspace():
            continue
        for n in unicodedata.normalize("NFKD", ch).lower():
            if not unicodedata.combining(n) and not n.isspace():
                out.append(n)
                where.append(i)
    return "".join(out), where


def accent_folded_occurrences(doc: Doc, text: str) -> List[Tuple[int, int]]:
    """Token spans whose text equals ``text`` once accents are folded on both sides (gold "Cancun"
    for "Cancún" in the sentence, or the reverse); the spans point into the original text."""
    return folded_occurrences(doc, text, fold_accents)


def _occurrences(doc: Doc, text: str, report: ConversionReport):
    """Exact occurrences of an entity string, else width/space-insensitive ones, else accent-insensitive
    ones (both counted)."""
    found, why = token_occurrences(doc, text)
    if why == NOT_FOUND:
        normalised = normalised_occurrences(doc, text)
        if normalised:
            report.normalised_matches += 1
            return normalised, None
        folded = accent_folded_occurrences(doc, text)
        if folded:
            report.accent_folded_matches += 1
            return folded, None
    return found, why


def _link(doc: Doc, subj: str, rel: str, obj: str, s_label: str, o_label: str, report, where, schema,
          every_occurrence: bool = False) -> List[list]:
    """The rows of one string triple: the nearest pair of occurrences, or with ``every_occurrence``
    one row per pair (the added rows counted); [] when it is skipped (counted)."""
    # surrounding whitespace in an entity string is annotation noise (DuIE has " 我为你着迷 ")
    subj, obj = subj.strip(), obj.strip()
    if relation_label(rel) is None:
        report.skip_triple(MISSING_RELATION, where)
        return []
    if schema is not None and rel not in schema:
        report.skip_triple(UNKNOWN_RELATION, where)
        return []
    subjects, why = _occurrences(doc, subj, report)
    if why:
        report.skip_triple(why, where)
        return []
    objects, why = _occurrences(doc, obj, report)
    if why:
        report.skip_triple(why, where)
        return []
    if every_occurrence:
        pairs = every_pair(subjects, objects)
        report.occurrence_triples_added += len(pairs) - 1
    else:
        subject, object_, ambiguous = place_pair(subjects, objects)
        report.ambiguous_entities_placed += int(ambiguous)
        pairs = [(subject, object_)]
    return [[s0, s1, s_label, rel, o0, o1, o_label, 1.0] for (s0, s1), (o0, o1) in pairs]


def read_casrel(path: Path, nlp: Language, report: ConversionReport, schema: Optional[Set[str]] = None,
                every_occurrence: bool = False) -> Iterator[Doc]:
    for n, where, record in iter_records(path, report, "record"):
        text = _text(record, where, report, "triple_list")
        if text is None:
            continue
        words = text.split()
        # the text is given (tokens joined by spaces), so its spaces are known: spaCy's Corpus then
        # tokenizes it with the pipeline's own tokenizer in training and evaluation, as nlp(text)
        # does, and aligns the gold spans by character. Unknown spaces would make it keep these
        # tokens instead ("K-W" one token where nlp(text) gives "K", "-", "W"): a model trained on
        # them lost 2.9 points of WebNLG test F1 on raw text (docs/webnlg.md)
        doc = Doc(nlp.vocab, words=words, spaces=[True] * (len(words) - 1) + [False])
        rows = []
        for triple in report.triples_in(record.get("triple_list", [])):
            if not (isinstance(triple, (list, tuple)) and len(triple) == 3 and all(isinstance(x, str) for x in triple)):
                report.skip_triple(MALFORMED_TRIPLE, where)
                continue
            subj, rel, obj = triple
            # entity strings use the same spacing as the text; normalise runs of spaces
            rows += _link(doc, " ".join(subj.split()), rel, " ".join(obj.split()), "", "", report, where, schema,
                          every_occurrence)
        yield finish_doc(doc, rows, report, f"{Path(path).name}:{n}")


def _value(slot, report: ConversionReport) -> str:
    """DuIE 2.0 objects/types are {"@value": ..., other slots}; 1.0 uses plain strings."""
    if isinstance(slot, dict):
        report.extra_slots_dropped += len([k for k in slot if k != "@value"])
        return str(slot.get("@value", ""))
    return "" if slot is None else str(slot)


def read_duie(path: Path, nlp: Language, report: ConversionReport, schema: Optional[Set[str]] = None,
              every_occurrence: bool = False) -> Iterator[Doc]:
    for n, where, record in iter_records(path, report, "line"):
        text = _text(record, where, report, "spo_list")
        if text is None:
            continue
        doc = nlp.make_doc(text)
        rows = []
        for spo in report.triples_in(record.get("spo_list", [])):
            if not isinstance(spo, dict) or not {"subject", "predicate", "object"} <= set(spo):
                report.skip_triple(MALFORMED_TRIPLE, where)
                continue
            obj_type_slot = spo.get("object_type")
            obj = spo["object"]
            if isinstance(obj, dict):
                # count the extra slots of a complex object once (its types mirror them)
                obj_value = _value(obj, report)
                obj_type = obj_type_slot.get("@value", "") if isinstance(obj_type_slot, dict) else str(obj_type_slot or "")
            else:
                obj_value, obj_type = str(obj), _value(obj_type_slot, report)
            rows += _link(doc, str(spo["subject"]), spo["predicate"], obj_value,
                          str(spo.get("subject_type") or ""), obj_type, report, where, schema, every_occurrence)
        yield finish_doc(doc, rows, report, f"{Path(path).name}:{n}")
