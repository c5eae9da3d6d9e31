"""``spacy_triples.triple_scorer.v1``: exact-match scoring of doc._.triples."""
from collections import Counter, defaultdict
from typing import Any, Dict, Iterable, List, Set, Tuple

from spacy.scorer import PRFScore
from spacy.training import Example

from .triples import DEFAULT_ENTITY_LABEL, has_triples_annotation, triple_rows

OVERLAP_TYPES = ("normal", "shared_entity", "multi_relation")
CharTriple = Tuple[int, int, str, int, int]


def triple_keys(doc) -> Set[CharTriple]:
    """Triples as (subject start char, end char, relation, object start char, end char).

    Character offsets make the comparison independent of the two docs' tokenizations.
    """
    keys = set()
    for r in triple_rows(doc) or []:
        subj, obj = doc[r.subject_start : r.subject_end], doc[r.object_start : r.object_end]
        keys.add((subj.start_char, subj.end_char, r.relation, obj.start_char, obj.end_char))
    return keys


def typed_triple_keys(doc) -> Set[tuple]:
    """Triples with both entity labels: (s_start, s_end, s_label, relation, o_start, o_end, o_label),
    character offsets. Used by the strict protocol (spans, relation and both entity types)."""
    keys = set()
    for r in triple_rows(doc) or []:
        subj, obj = doc[r.subject_start : r.subject_end], doc[r.object_start : r.object_end]
        # an unlabelled gold span ("") is the untyped ENTITY a model without types predicts
        keys.add((subj.start_char, subj.end_char, r.subject_type or DEFAULT_ENTITY_LABEL, r.relation,
                  obj.start_char, obj.end_char, r.object_type or DEFAULT_ENTITY_LABEL))
    return keys


def text_triple_keys(doc) -> Set[Tuple[str, str, str]]:
    """Triples as (subject text, relation, object text): the DuIE / LIC2019 protocol, where a fact
    counts once per sentence whichever occurrence of its entities was marked."""
    return {(doc[r.subject_start : r.subject_end].text, r.relation, doc[r.object_start : r.object_end].text)
            for r in triple_rows(doc) or []}


def last_word_triple_keys(doc) -> Set[Tuple[str, str, str]]:
    """Triples as (last word of the subject, relation, last word of the object), a set per doc:
    the WebNLG* / NYT* protocol of CasRel and TPLinker. Their data marks only the last word of each
    entity and their evaluation compares (subject, relation, object) strings per sentence, so a
    prediction counts when the last words of both its entities and its relation are right, wherever
    in the sentence those words stand (a model trained on whole entities is scored the same way)."""
    return {(doc[r.subject_end - 1].text, r.relation, doc[r.object_end - 1].text) for r in triple_rows(doc) or []}


def overlap_types(gold: Set[CharTriple]) -> List[str]:
    """CasRel's sentence classes: 'normal' (no entity shared between triples), 'shared_entity'
    (an entity in several triples; SEO) and 'multi_relation' (a pair with several relations; EPO).
    A sentence can be both shared_entity and multi_relation."""
    if not gold:
        return []
    pairs = Counter((s0, s1, o0, o1) for s0, s1, _, o0, o1 in gold)
    types = []
    if any(n > 1 for n in pairs.values()):
        types.append("multi_relation")
    entities = Counter()
    for (s0, s1, o0, o1) in pairs:
        entities[(s0, s1)] += 1
        entities[(o0, o1)] += 1
    if any(n > 1 for n in entities.values()):
        types.append("shared_entity")
    return types or ["normal"]


def _prf(score: PRFScore) -> Dict[str, float]:
    return {"p": score.precision, "r": score.recall, "f": score.fscore}


def score_triples(examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
    """Exact match of (subject span, relation, object span) between predicted and reference docs.

    Returns triples_p/r/f (micro, boundaries only), triples_strict_p/r/f (spans, relation and both
    entity labels must match), triples_per_type (per relation), triples_per_overlap (by sentence
    overlap class), triple_ents_p/r/f for the entity spans (subjects and objects, boundaries only)
    and triple_ents_per_type (typed spans, per entity label). triples_text_p/r/f compare
    (subject text, relation, object text) sets per doc, as the DuIE / LIC2019 evaluation does.
    triples_last_word_p/r/f compare the last token of each entity (WebNLG* / NYT*, as CasRel and
    TPLinker score them).
    Every gold triple the model did not predict counts as a false negative. Reference docs with
    no triples annotation at all (never set) are skipped.
    """
    micro = PRFScore()
    text = PRFScore()
    last_word = PRFScore()
    strict = PRFScore()
    ents = PRFScore()
    ents_per_type: Dict[str, PRFScore] = defaultdict(PRFScore)
    per_type: Dict[str, PRFScore] = defaultdict(PRFScore)
    per_overlap: Dict[str, PRFScore] = {name: PRFScore() for name in OVERLAP_TYPES}
    n_scored = 0
    for eg in examples:
        if not has_triples_annotation(eg.reference):
            continue
        n_scored += 1
        gold = triple_keys(eg.reference)
        pred = triple_keys(eg.predicted)
        micro.score_set(pred, gold)
        text.score_set(text_triple_keys(eg.predicted), text_triple_keys(eg.reference))
        last_word.score_set(last_word_triple_keys(eg.predicted), last_word_triple_keys(eg.reference))
        pred_typed, gold_typed = typed_triple_keys(eg.predicted), typed_triple_keys(eg.reference)
        strict.score_set(pred_typed, gold_typed)
        pred_ents = {(t[0], t[1], t[2]) for t in pred_typed} | {(t[4], t[5], t[6]) for t in pred_typed}
        gold_ents = {(t[0], t[1], t[2]) for t in gold_typed} | {(t[4], t[5], t[6]) for t in gold_typed}
        for label in {e[2] for e in pred_ents | gold_ents}:
            ents_per_type[label].score_set({e for e in pred_ents if e[2] == label}, {e for e in gold_ents if e[2] == label})
        for label in {t[2] for t in gold | pred}:
            per_type[label].score_set({t for t in pred if t[2] == label}, {t for t in gold if t[2] == label})
        for name in overlap_types(gold):
            per_overlap[name].score_set(pred, gold)
        ents.score_set(
            {(t[0], t[1]) for t in pred} | {(t[3], t[4]) for t in pred},
            {(t[0], t[1]) for t in gold} | {(t[3], t[4]) for t in gold},
        )
    if n_scored == 0:
        return {
            "triples_p": None, "triples_r": None, "triples_f": None,
            "triples_strict_p": None, "triples_strict_r": None, "triples_strict_f": None,
            "triples_text_p": None, "triples_text_r": None, "triples_text_f": None,
            "triples_last_word_p": None, "triples_last_word_r": None, "triples_last_word_f": None,
            "triple_ents_per_type": None,
            "triples_per_type": None, "triples_per_overlap": None,
            "triple_ents_p": None, "triple_ents_r": None, "triple_ents_f": None,
        }
    return {
        "triples_p": micro.precision,
        "triples_r": micro.recall,
        "triples_f": micro.fscore,
        "triples_strict_p": strict.precision,
        "triples_strict_r": strict.recall,
        "triples_strict_f": strict.fscore,
        "triples_text_p": text.precision,
        "triples_text_r": text.recall,
        "triples_text_f": text.fscore,
        "triples_last_word_p": last_word.precision,
        "triples_last_word_r": last_word.recall,
        "triples_last_word_f": last_word.fscore,
        "triples_per_type": {label: _prf(s) for label, s in sorted(per_type.items())},
        "triples_per_overlap": {
            name: _prf(s) for name, s in per_overlap.items() if s.tp + s.fn + s.fp > 0
        },
        "triple_ents_p": ents.precision,
        "triple_ents_r": ents.recall,
        "triple_ents_f": ents.fscore,
        "triple_ents_per_type": {label: _prf(sc) for label, sc in sorted(ents_per_type.items())},
    }


def make_triple_scorer():
    """Registered as ``spacy_triples.triple_scorer.v1``."""
    return score_triples
