"""Label Studio writer: a JSON task list with the triples as pre-annotations or annotations, and a
labeling config for the project."""
import json
from pathlib import Path
from typing import Dict, Iterable

from .annotations import UNTYPED, AnnotationExport, entities


def to_labelstudio(documents: Iterable[Dict], path: str, summary: AnnotationExport, predictions: bool,
                   model_version: str = "spacy-triples") -> None:
    """A Label Studio JSON task list. ``predictions``: the triples go under ``predictions`` (with
    scores) for pre-annotation, else under ``annotations``. Also writes ``<path>.label_config.xml``,
    a labeling config with every entity and relation label (paste it into the project settings)."""
    tasks, ent_labels, rel_labels = [], set(), set()
    for record in documents:
        spans, triples = entities(record, summary)
        result = []
        for k, (start, end, label) in enumerate(spans):
            ent_labels.add(label)
            scores = [score for s, _, o, score in triples if k in (s, o)]
            result.append({"id": f"e{k}", "from_name": "label", "to_name": "text", "type": "labels",
                           "value": {"start": start, "end": end, "text": record["text"][start:end], "labels": [label]},
                           "score": max(scores) if scores else 1.0})
        for s, relation, o, score in triples:
            rel_labels.add(relation)
            result.append({"from_id": f"e{s}", "to_id": f"e{o}", "type": "relation", "direction": "right",
                           "labels": [relation], "score": score})
        task = {"data": {"text": record["text"], "doc_id": record["id"]}}
        if predictions:
            task["predictions"] = [{"model_version": model_version, "result": result,
                                    "score": min([t[3] for t in triples], default=1.0)}]
        else:
            task["annotations"] = [{"result": result}]
        tasks.append(task)
        summary.docs += 1
        summary.triples += len(triples)
    Path(path).write_text(json.dumps(tasks, ensure_ascii=False, indent=1), encoding="utf8")
    Path(str(path) + ".label_config.xml").write_text(labelstudio_config(ent_labels, rel_labels), encoding="utf8")


def labelstudio_config(entity_labels: Iterable[str], relation_labels: Iterable[str]) -> str:
    """A Label Studio labeling config for the exported tasks (names match ``from_name``/``to_name``)."""
    from xml.sax.saxutils import quoteattr

    ents = "\n".join(f"    <Label value={quoteattr(x)}/>" for x in sorted(set(entity_labels) or {UNTYPED}))
    rels = "\n".join(f"    <Relation value={quoteattr(x)}/>" for x in sorted(relation_labels))
    return (f'<View>\n  <Relations>\n{rels}\n  </Relations>\n  <Labels name="label" toName="text">\n{ents}\n'
            f'  </Labels>\n  <Text name="text" value="$text"/>\n</View>\n')
