"""The one reader of export's inputs: a ``.spacy`` DocBin (gold or predicted ``doc._.triples``) or the
JSONL that ``extract`` writes (or convert-style JSONL), with two views of it for the writers:

- ``read_triples``: the flat triple records (``FIELDS``) of the JSONL, CSV, RDF and GraphML writers;
  a malformed record or triple raises ValueError naming the file, line and triple.
- ``read_documents``: documents with their text and triples, for the annotation-tool writers; extract
  records with an error are counted in the summary and skipped, a malformed triple is counted by the
  writer (``annotations.entities``).

Both read the input through ``read_input``: DocBins with ``read_docbin``, JSONL lines with
``read_extract_records`` (which ``graph`` uses too), so that a byte-order mark, invalid UTF-8, a line
that is not JSON or not an object, and a lone surrogate get the same handling and the same message.
"""
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ..safe_io import BLANK_LINE, json_line, numbered_lines

# the flat triple record: what the JSONL and CSV writers write, and what the RDF and GraphML writers read
FIELDS = [
    "doc_id", "subject", "subject_label", "subject_start", "subject_end", "relation",
    "object", "object_label", "object_start", "object_end", "score",
]


@dataclass
class InputDocument:
    """One document of the input: a Doc of a DocBin (``record`` None) or one extract JSONL record
    (``doc`` None; ``where`` is "FILE, line N", ``line`` is N)."""
    id: Any
    doc: Any = None
    record: Optional[Dict] = None
    where: str = ""
    line: int = 0


def read_extract_records(path) -> Iterator[Tuple[Dict, str, int]]:
    """(record, "FILE, line N", N) for each non-blank line of an ``extract`` JSONL file (a byte-order
    mark at its start dropped); a line that is not valid UTF-8, not JSON, not a JSON object, or a
    record holding a lone surrogate raises ValueError naming the line. Shared by ``export`` and
    ``graph``."""
    path = Path(path)
    with path.open("rb") as handle:
        for n, raw in numbered_lines(handle):
            where = f"{path}, line {n}"
            record = json_line(raw, where)
            if record is BLANK_LINE:
                continue
            if not isinstance(record, dict):
                raise ValueError(f"{where}: expected a JSON object (an extract record), got {type(record).__name__}.")
            try:
                json.dumps(record, ensure_ascii=False).encode("utf8")
            except UnicodeEncodeError as err:
                raise ValueError(f"{where}: the record holds a lone surrogate, which cannot be written as UTF-8.") from err
            yield record, where, n


def read_docbin(path, lang: str = "xx") -> List:
    """The Docs of a ``.spacy`` DocBin (with ``doc._.triples``); a file that is not a DocBin raises
    ValueError naming it."""
    import spacy
    from spacy.tokens import DocBin

    from ..triples import install_extensions

    install_extensions()
    try:
        return list(DocBin().from_disk(path).get_docs(spacy.blank(lang).vocab))
    except Exception as err:  # msgpack/zlib errors of a file that is not a DocBin
        raise ValueError(f"{path} is not a readable .spacy DocBin ({type(err).__name__}: {err}).") from err


def read_input(path) -> Iterator[InputDocument]:
    """The documents of a ``.spacy`` DocBin (id: the Doc's ``user_data["source"]``, else its index)
    or of extract JSONL (id: the record's own, resolved by each view), in order. A path that is not
    a file raises ValueError."""
    path_ = Path(path)
    if not path_.is_file():
        raise ValueError(f"{path} does not exist: give a .spacy file or the JSONL written by 'extract'.")
    if path_.suffix == ".spacy":
        for n, doc in enumerate(read_docbin(path_)):
            yield InputDocument(id=doc.user_data.get("source", n), doc=doc)
        return
    for record, where, n in read_extract_records(path_):
        yield InputDocument(id=record.get("id", n), record=record, where=where, line=n)


def read_triples(path: str) -> Iterator[Dict]:
    """Flat triple records from a .spacy DocBin (gold or predicted doc._.triples) or extract JSONL
    (or convert-style JSONL: a triple without ``subject``/``object`` text takes it from ``text`` at its
    offsets). Malformed input raises ValueError naming the file and line."""
    for item in read_input(path):
        if item.doc is not None:
            for t in item.doc._.triples:
                yield flat_record(item.id, t.to_dict())
            continue
        record, where = item.record, item.where
        triples = record.get("triples", [])
        if triples is None and record.get("error") is not None:
            triples = []
        if not isinstance(triples, list):
            raise ValueError(f"{where}: 'triples' must be a list, got {json.dumps(triples)[:40]}.")
        text = record.get("text")
        for k, t in enumerate(triples, 1):
            yield flat_record(item.id, complete_triple(t, text, f"{where}, triple {k}"))


def complete_triple(t, text, where: str) -> Dict:
    """Check one JSONL triple and fill in subject/object text from the document text when missing
    (a copy; labels become strings, "" when absent). Malformed triples raise ValueError naming
    ``where``. Used by ``graph`` for the same records."""
    if not isinstance(t, dict):
        raise ValueError(f"{where}: expected an object, got {json.dumps(t)[:40]}.")
    t = dict(t)
    for role in ("subject", "object"):
        chars = t.get(f"{role}_chars")
        if not (isinstance(chars, list) and len(chars) == 2
                and all(isinstance(x, int) and not isinstance(x, bool) for x in chars) and 0 <= chars[0] <= chars[1]):
            raise ValueError(f"{where}: '{role}_chars' must be [start, end] character offsets, got {json.dumps(chars)}.")
        if t.get(role) is None:
            if not isinstance(text, str) or chars[1] > len(text):
                raise ValueError(f"{where}: no '{role}' text, and the record's 'text' does not hold its offsets {chars}.")
            t[role] = text[chars[0]:chars[1]]
        elif not isinstance(t[role], str):
            raise ValueError(f"{where}: '{role}' must be a string, got {json.dumps(t[role])[:40]}.")
        label = t.get(f"{role}_label")
        t[f"{role}_label"] = "" if label is None else str(label)
    if not isinstance(t.get("relation"), str) or not t["relation"]:
        raise ValueError(f"{where}: 'relation' must be a non-empty string, got {json.dumps(t.get('relation'))}.")
    score = t.get("score", 1.0)
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0.0 <= score <= 1.0:
        raise ValueError(f"{where}: 'score' must be a number in [0, 1], got {json.dumps(score)}.")
    return t


def flat_record(doc_id, t: Dict) -> Dict:
    """The flat record (``FIELDS``) of one triple dict (``Triple.to_dict()`` or a completed JSONL triple)."""
    return {
        "doc_id": doc_id,
        "subject": t["subject"], "subject_label": t.get("subject_label", ""),
        "subject_start": t["subject_chars"][0], "subject_end": t["subject_chars"][1],
        "relation": t["relation"],
        "object": t["object"], "object_label": t.get("object_label", ""),
        "object_start": t["object_chars"][0], "object_end": t["object_chars"][1],
        "score": float(t.get("score", 1.0)),
    }


def read_documents(path: str, summary) -> Iterator[Dict]:
    """Documents with their triples (character offsets) from a .spacy DocBin or ``extract`` JSONL:
    ``{"id", "text", "doc" (a Doc, or None for JSONL), "triples": [{"subject_chars", "subject_label",
    "relation", "object_chars", "object_label", "score"}]}``. Extract records with an error are
    counted (in ``summary.skipped_docs``, an ``AnnotationExport``) and skipped."""
    for item in read_input(path):
        if item.doc is not None:
            yield {"id": item.id, "text": item.doc.text, "doc": item.doc,
                   "triples": [t.to_dict() for t in item.doc._.triples]}
            continue
        record = item.record
        if not isinstance(record.get("text"), str):
            raise ValueError(f"{item.where}: expected an object with a string 'text' (the JSONL of 'extract').")
        if record.get("error"):
            summary.skipped_docs["extract error: " + str(record["error"])[:60]] += 1
            continue
        yield {"id": item.id, "text": record["text"], "doc": None, "triples": list(record.get("triples") or [])}
