"""Threshold tuning on a dev set (``spacy-triples tune-thresholds``): one threshold per relation,
or (``--global``) one for all relations."""
from collections import defaultdict
from typing import Dict, Iterable, List, Sequence, Set, Tuple

from ..scorer import triple_keys
from ..triples import triple_rows

Key = tuple  # (doc index, s_start_char, s_end_char, relation, o_start_char, o_end_char)
DEFAULT_GRID = tuple(round(0.05 * i, 2) for i in range(1, 20))


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def sweep_thresholds(
    predicted: Sequence[Tuple[Key, float]], gold: Set[Key], grid: Sequence[float] = DEFAULT_GRID
) -> Dict[str, Tuple[float, float]]:
    """For each relation, the grid threshold with the best F1 on these triples.

    predicted: (key, score) for triples decoded at (or below) the lowest grid value; key[3] is the
    relation. A triple is kept at threshold t when its score > t (as the decoder does). Ties go to
    the higher threshold. Returns {relation: (threshold, f1)}.
    """
    by_rel: Dict[str, List[Tuple[Key, float]]] = defaultdict(list)
    for key, score in predicted:
        by_rel[key[3]].append((key, score))
    gold_by_rel: Dict[str, Set[Key]] = defaultdict(set)
    for key in gold:
        gold_by_rel[key[3]].add(key)
    return {rel: _best_on_grid(by_rel[rel], gold_by_rel[rel], grid) for rel in sorted(set(by_rel) | set(gold_by_rel))}


def _best_on_grid(predicted: Sequence[Tuple[Key, float]], gold: Set[Key], grid: Sequence[float]) -> Tuple[float, float]:
    """(threshold, f1): the grid value with the best F1 when triples scoring > t are kept; ties go
    to the higher threshold."""
    choices = []
    for t in grid:
        kept = {k for k, s in predicted if s > t}
        tp = len(kept & gold)
        choices.append((_f1(tp, len(kept) - tp, len(gold) - tp), t))
    f1, t = max(choices)
    return t, f1


def sweep_global_threshold(
    predicted: Sequence[Tuple[Key, float]], gold: Set[Key], grid: Sequence[float] = DEFAULT_GRID
) -> Tuple[float, float]:
    """The one grid threshold, for all relations together, with the best micro F1 on these
    triples: (threshold, f1). Same conventions as ``sweep_thresholds`` (kept when score > t, ties
    to the higher threshold). Fewer choices than one per relation, so less fitted to a small dev set.
    """
    return _best_on_grid(predicted, gold, grid)


def _keyed(docs_examples) -> Tuple[List[Tuple[Key, float]], Set[Key]]:
    predicted, gold = [], set()
    for n, (doc, eg) in enumerate(docs_examples):
        for row in triple_rows(doc) or []:
            subj, obj = doc[row.subject_start : row.subject_end], doc[row.object_start : row.object_end]
            predicted.append(((n, subj.start_char, subj.end_char, row.relation, obj.start_char, obj.end_char), row.score))
        gold |= {(n,) + key for key in triple_keys(eg.reference)}
    return predicted, gold


def tune_thresholds(nlp, examples: Iterable, component: str = "triple_extractor",
                    grid: Sequence[float] = DEFAULT_GRID, per_relation: bool = True) -> Dict:
    """Sweep thresholds on ``examples`` and set the best on the pipe and nlp.config: one per
    relation (``thresholds``), or with ``per_relation=False`` one for all relations (``threshold``,
    clearing any per-relation values).

    Returns {"thresholds": {...}, "threshold": ..., "f1_before": ..., "f1_after": ...} (micro F1 on
    these examples).
    """
    examples = list(examples)
    pipe = nlp.get_pipe(component)
    before = nlp.evaluate(examples)["triples_f"]
    saved = (pipe.cfg["threshold"], dict(pipe.cfg.get("thresholds") or {}))
    pipe.cfg["threshold"], pipe.cfg["thresholds"] = min(grid), {}
    try:
        docs = list(nlp.pipe([eg.predicted.copy() for eg in examples]))
    finally:
        pipe.cfg["threshold"], pipe.cfg["thresholds"] = saved
        predicted, gold = _keyed(zip(docs, examples))
    if per_relation:
        best = sweep_thresholds(predicted, gold, grid)
        thresholds = {rel: t for rel, (t, _) in best.items() if rel in pipe.labels}
        threshold = pipe.cfg["threshold"]
    else:
        threshold, thresholds = sweep_global_threshold(predicted, gold, grid)[0], {}
    pipe.cfg["threshold"], pipe.cfg["thresholds"] = threshold, thresholds
    # nlp.config is rebuilt from the per-pipe configs on each access: update the pipe's own entry
    # (private in spaCy 3.8) so that config.cfg written by nlp.to_disk carries the tuned values
    pipe_configs = getattr(nlp, "_pipe_configs", None)
    if pipe_configs is not None and component in pipe_configs:
        pipe_configs[component]["thresholds"] = dict(thresholds)
        pipe_configs[component]["threshold"] = threshold
    after = nlp.evaluate(examples)["triples_f"]
    return {"thresholds": thresholds, "threshold": threshold, "f1_before": before, "f1_after": after}
