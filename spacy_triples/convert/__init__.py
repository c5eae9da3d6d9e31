"""Dataset readers -> DocBin files whose reference docs carry gold doc._.triples.

Every reader has the signature ``read(path, nlp, report, schema=None) -> Iterator[Doc]`` and accounts
for every record in ``report`` (converted, or skipped with a reason).
"""
import json
from pathlib import Path
from typing import Optional, Set

from ..safe_io import READ_ENCODING
from .base import ConversionError, ConversionReport, read_records, write_docbin
from .doccano import read_doccano
from .labelstudio import read_labelstudio
from .jsonl import read_prodigy, read_triples_jsonl
from .strings import read_casrel, read_duie
from .tokens import read_spert, read_unified

READERS = {
    "casrel": read_casrel,
    "unified": read_unified,
    "spert": read_spert,
    "duie": read_duie,
    "prodigy": read_prodigy,
    "jsonl": read_triples_jsonl,
    "labelstudio": read_labelstudio,
    "doccano": read_doccano,
}


def detect_format(path: Path) -> str:
    """Name the format from the first record's keys; raise when it is ambiguous or unknown."""
    for _, record in read_records(path):
        if not isinstance(record, dict):
            break
        keys = set(record)
        if isinstance(record.get("data"), dict):
            return "labelstudio"
        if {"text", "entities", "relations"} <= keys and "tokens" not in keys:
            return "doccano"
        if "triple_list" in keys:
            return "casrel"
        if "spo_list" in keys:
            return "duie"
        if "text" in keys and ("triples" in keys or "error" in keys):
            return "jsonl"  # our JSONL, or extract output starting with an error record
        if "tokens" in keys and "relations" in keys:
            if "spans" in keys or (record["tokens"] and isinstance(record["tokens"][0], dict)):
                return "prodigy"
            entities = record.get("entities")
            if entities and isinstance(entities[0], dict):
                return "spert"
            if entities and isinstance(entities[0], list):
                return "unified"
            rels = record.get("relations")
            if rels and isinstance(rels[0], dict):
                return "spert"
            if rels and isinstance(rels[0], list):
                return "unified"
        break
    raise ConversionError(
        f"Cannot tell the format of {path} from its first record: give --format "
        f"({', '.join(sorted(READERS))})."
    )


def load_schema(path: Optional[Path]) -> Optional[Set[str]]:
    """Relation names from a schema: DuIE (JSON lines or list of {"predicate", ...}), a rel2id JSON
    (CasRel: {rel: id} or [id2rel, rel2id]), or a plain text file with one relation per line. A
    byte-order mark at the start of the file is dropped."""
    if path is None:
        return None
    path = Path(path)
    if not path.is_file():
        raise ConversionError(f"Schema file {path} does not exist (or is not a file).")
    try:
        text = path.read_text(encoding=READ_ENCODING)
    except UnicodeDecodeError as err:
        raise ConversionError(f"{path}: the schema is not UTF-8 text (byte {err.start}).") from err
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if (isinstance(data, list) and len(data) == 2 and all(isinstance(x, dict) for x in data)
            and not any("predicate" in x for x in data)):  # two DuIE entries are not [id2rel, rel2id]
        return set(data[1])  # [id2rel, rel2id]
    if isinstance(data, dict):
        return set(data)  # rel2id
    if isinstance(data, list):
        return {str(x["predicate"]) for x in data if isinstance(x, dict) and "predicate" in x}
    names: Set[str] = set()
    for k, line in enumerate(text.split("\n"), 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                names.add(str(json.loads(line)["predicate"]))
            except (ValueError, KeyError, TypeError) as err:
                raise ConversionError(f"{path}, line {k}: expected a JSON object with a 'predicate' ({err!r}).") from err
        else:
            names.add(line)
    if not names:
        raise ConversionError(f"{path}: no relation names found in the schema.")
    return names


__all__ = ["ConversionError", "ConversionReport", "READERS", "detect_format", "load_schema", "write_docbin"]
