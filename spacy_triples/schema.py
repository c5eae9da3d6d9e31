"""Relation schemas: which (subject type, object type) pairs each relation allows.

Accepted sources (``load_relation_schema``):
- a dict ``{relation: [[subject types...], [object types...]]}`` (what the pipe stores in its cfg);
- a DuIE schema file (JSON lines or a JSON list of ``{"predicate", "subject_type", "object_type"}``,
  ``object_type`` a string or ``{"@value": ...}``); several lines for one predicate add up;
- a plain text file, one relation per line: ``Work_For: [Peop] -> [Org]`` (several types separated by
  commas; ``#`` starts a comment).
"""
import json
import re
from pathlib import Path
from typing import Dict, List, Union

Schema = Dict[str, List[List[str]]]
LINE = re.compile(r"^\s*(?P<rel>[^:]+?)\s*:\s*\[(?P<subj>[^\]]*)\]\s*->\s*\[(?P<obj>[^\]]*)\]\s*$")


def _add(schema: Dict[str, List[set]], rel: str, subj, obj) -> None:
    entry = schema.setdefault(rel, [set(), set()])
    entry[0].update(subj)
    entry[1].update(obj)


def load_relation_schema(source: Union[str, Path, dict, None]) -> Schema:
    if source is None or source == {}:
        return {}
    if isinstance(source, dict):
        return {str(rel): [sorted(map(str, pair[0])), sorted(map(str, pair[1]))] for rel, pair in source.items()}
    path = Path(source)
    if not path.is_file():
        raise ValueError(f"Relation schema {path} does not exist: give a DuIE schema file or a text file "
                         "with lines like 'Work_For: [Peop] -> [Org]'.")
    text = path.read_text(encoding="utf-8-sig")  # a byte-order mark (Windows tools) is not part of the text
    raw: Dict[str, List[set]] = {}
    stripped = text.lstrip()
    if stripped.startswith("[") or stripped.startswith("{"):
        try:
            items = json.loads(text) if stripped.startswith("[") else [json.loads(l) for l in text.splitlines() if l.strip()]
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not a valid DuIE schema ({err}).") from err
        for n, item in enumerate(items, 1):
            try:
                obj = item["object_type"]
                obj_types = [obj["@value"]] if isinstance(obj, dict) else [obj]
                _add(raw, str(item["predicate"]), [str(item["subject_type"])], [str(t) for t in obj_types])
            except (KeyError, TypeError) as err:
                raise ValueError(f"{path}, entry {n}: needs predicate, subject_type, object_type ({err}).") from err
    else:
        for n, line in enumerate(text.splitlines(), 1):
            line = line.split("#", 1)[0]
            if not line.strip():
                continue
            match = LINE.match(line)
            if not match:
                raise ValueError(f"{path}, line {n}: expected 'relation: [subject types] -> [object types]', got {line.strip()!r}.")
            split = lambda s: [t.strip() for t in s.split(",") if t.strip()]  # noqa: E731
            _add(raw, match["rel"], split(match["subj"]), split(match["obj"]))
    return {rel: [sorted(s), sorted(o)] for rel, (s, o) in raw.items()}


def allowed(schema: Schema, relation: str, subject_type: str, object_type: str) -> bool:
    """True when the schema allows the triple; relations the schema does not name are not allowed."""
    if not schema:
        return True
    pair = schema.get(relation)
    return pair is not None and subject_type in pair[0] and object_type in pair[1]


def filter_by_schema(rows: List[list], schema: Schema, labels, types) -> List[list]:
    """Keep the decoded rows (per doc, TripleRows with label and type indices) whose relation allows
    their (subject type, object type) in ``schema``; an empty schema keeps everything."""
    if not schema:
        return rows
    return [[r for r in doc_rows if allowed(schema, labels[r.relation], types[r.subject_type], types[r.object_type])]
            for doc_rows in rows]
