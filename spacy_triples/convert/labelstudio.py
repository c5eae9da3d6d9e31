"""Label Studio JSON export (a list of tasks, or JSON lines of tasks) with ``Labels`` on a ``Text`` and
``Relations`` between them::

    [{"data": {"text": "Barack Obama was born in Honolulu ."},
      "annotations": [{"result": [
          {"id": "e0", "from_name": "label", "to_name": "text", "type": "labels",
           "value": {"start": 0, "end": 12, "text": "Barack Obama", "labels": ["PER"]}},
          {"id": "e1", "from_name": "label", "to_name": "text", "type": "labels",
           "value": {"start": 25, "end": 33, "text": "Honolulu", "labels": ["LOC"]}},
          {"type": "relation", "from_id": "e0", "to_id": "e1", "direction": "right", "labels": ["born_in"]}]}]}]

Spans are character offsets (end exclusive) into the text; a relation goes from the subject
(``from_id``) to the object (``to_id``), reversed for ``"direction": "left"``; each relation label is
one triple. The task's last annotation that was not cancelled is read; a task without one is read
from its first prediction (what ``spacy-triples export --format labelstudio`` writes for model
output), and both cases are counted. The text is ``data.text`` (or the only string in ``data``).
"""
from pathlib import Path
from typing import Iterator, Optional, Set

from spacy.language import Language
from spacy.tokens import Doc

from .base import MALFORMED_TRIPLE, ConversionError, ConversionReport, finish_doc, iter_records
from .charspans import UNDIRECTED, as_int, char_triple, count_unlinked, entity_label, relation_labels

NOT_ANNOTATED = "task has no annotation or prediction"
CANCELLED = "every annotation of the task was cancelled"
FROM_PREDICTION = "tasks read from a prediction (no annotation)"
SEVERAL_ANNOTATIONS = "tasks with several annotations (the last one read)"
OTHER_RESULTS = "results of other types ignored (choices, text areas...)"


def _task_text(record, where: str) -> str:
    data = record.get("data") if isinstance(record, dict) else None
    if not isinstance(data, dict):
        raise ConversionError(f"{where}: expected a Label Studio task with a 'data' object, got {str(record)[:80]!r}.")
    if isinstance(data.get("text"), str):
        return data["text"]
    strings = [k for k, v in data.items() if isinstance(v, str)]
    if len(strings) == 1:
        return data[strings[0]]
    raise ConversionError(
        f"{where}: cannot tell which field of 'data' is the text (fields: {', '.join(sorted(data)) or 'none'}); "
        "name it 'text' in the Label Studio task."
    )


def _choose_result(record, where: str, report: ConversionReport):
    """The result list to read, or None when the task is skipped (counted)."""
    annotations = [a for a in record.get("annotations") or [] if isinstance(a, dict)]
    kept = [a for a in annotations if not a.get("was_cancelled")]
    if kept:
        if len(kept) > 1:
            report.notes[SEVERAL_ANNOTATIONS] += 1
        return kept[-1].get("result") or []
    if annotations:
        report.skip_record(CANCELLED, where)
        return None
    predictions = [p for p in record.get("predictions") or [] if isinstance(p, dict)]
    if predictions:
        report.notes[FROM_PREDICTION] += 1
        return predictions[0].get("result") or []
    report.skip_record(NOT_ANNOTATED, where)
    return None


def read_labelstudio(path: Path, nlp: Language, report: ConversionReport, schema: Optional[Set[str]] = None) -> Iterator[Doc]:
    for n, where, record in iter_records(path, report, "task"):
        text = _task_text(record, where)
        if not text.strip():
            report.skip_record("empty text", where)
            continue
        result = _choose_result(record, where, report)
        if result is None:
            continue
        if not isinstance(result, list):
            raise ConversionError(f"{where}: the annotation 'result' must be a list, got {type(result).__name__}.")
        entities, relations, other = {}, [], 0
        for item in result:
            if not isinstance(item, dict):
                other += 1
                continue
            value = item.get("value")
            if item.get("type") == "relation" or ("from_id" in item and "to_id" in item):
                relations.append(item)
            elif isinstance(value, dict) and "start" in value and "end" in value and "id" in item:
                labels = value.get("labels") or value.get("hypertextlabels") or [""]
                entities[item["id"]] = (as_int(value["start"]), as_int(value["end"]), entity_label(labels[0]),
                                        value.get("text"))
            else:
                other += 1
        if other:
            report.notes[OTHER_RESULTS] += other
        # one input triple per relation label (a relation without a label is one triple, skipped)
        triples = []
        for rel in relations:
            labels = relation_labels(rel.get("labels"))
            triples += [(rel, label) for label in labels] or [(rel, "")]
        doc, rows, used = nlp.make_doc(text), [], set()
        for rel, label in report.triples_in(triples):
            head, tail = rel.get("from_id"), rel.get("to_id")
            direction = rel.get("direction", "right")
            if direction == "left":
                head, tail = tail, head
            elif direction == "bi":
                report.skip_triple(UNDIRECTED, where)
                continue
            elif direction != "right":
                report.skip_triple(MALFORMED_TRIPLE, where)
                continue
            used.update((head, tail))
            row = char_triple(doc, entities, head, tail, label, report, where, schema)
            if row:
                rows.append(row)
        count_unlinked(entities, used, report)
        yield finish_doc(doc, rows, report, f"{Path(path).name}:{n}")
