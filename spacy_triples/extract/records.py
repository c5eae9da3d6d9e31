"""The ``extract`` record: the one schema that the local engine, the Ray engine and the service write,
and the readers and writers of record files.

Input records (``InputRecord``) come from a text file (one document per line), a JSONL file with a
``text`` field (other fields are kept as ``meta``), a directory of ``.txt`` files (one document
each), or ``-`` for stdin; the Ray engine reads Parquet rows with ``record_from_object`` too. Output
records, one per input record, in input order::

    {"id": ..., "text": ..., "triples": [Triple.to_dict(), ...], "meta": {...}}

A record that cannot be processed (invalid UTF-8, a lone surrogate, malformed JSON, no text, longer
than ``max_length``, a file of a folder that cannot be read) gets ``"error": "..."`` and no triples;
its ``id`` is the record's own (the line number for text lines, ``null`` when a JSONL line does not
parse) and ``"line"`` gives its line in the input. A document on which the pipeline raises gets
``"error"`` too (the exception's type and message). An empty document gets ``"warning"``.

A UTF-8 byte-order mark at the start of a file (or of stdin) is not part of the text: it is dropped
(``spacy_triples.safe_io``), and character offsets count from the character after it.
"""
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from ..safe_io import BLANK_LINE, JsonLineError, json_line, numbered_lines, strip_bom


# ---------------------------------------------------------------------------------- the schema
@dataclass
class InputRecord:
    """One document to process: its id, text and meta, or the error or warning that replaces them
    (``line``: its line in the input, for an error record's message)."""
    id: Any
    text: str = ""
    meta: Dict[str, Any] = field(default_factory=dict)
    error: Optional[str] = None
    warning: Optional[str] = None
    line: Optional[int] = None


def build_record(id_: Any, text: str, *, triples: Optional[List[Dict[str, Any]]] = None,
                 error: Optional[str] = None, line: Optional[int] = None, warning: Optional[str] = None,
                 meta: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """An output record from its fields (None: absent), the one place its keys and their order are
    written: ``{"id", "text", "triples" | "error" (+ "line"), "warning"?, "meta"?}``. ``line`` is
    kept for an error record only, ``triples`` for a record without an error only."""
    result = {"id": id_, "text": text}
    if error is not None:
        result["error"] = error
        if line is not None:
            result["line"] = line
    else:
        result["triples"] = triples
    if warning is not None:
        result["warning"] = warning
    if meta is not None:
        result["meta"] = meta
    return result


def output_record(record: InputRecord, doc) -> Dict[str, Any]:
    """The output record of one input record and the Doc the pipeline made of its text (ignored,
    and may be None, for an error record): what every engine writes for a document."""
    return build_record(record.id, record.text, triples=None if record.error else [t.to_dict() for t in doc._.triples],
                        error=record.error or None, line=record.line, warning=record.warning or None,
                        meta=record.meta or None)


def doc_record(doc, id_: Any) -> Dict[str, Any]:
    """The output record of a Doc processed on its own (the service's ``POST /extract``): the
    record ``spacy-triples extract`` writes for a document with this id and text."""
    warning = None if doc.text.strip() else "empty document"
    return output_record(InputRecord(id=id_, text=doc.text, warning=warning), doc)


def check_record(record: InputRecord, max_length: int) -> InputRecord:
    """Give a readable record its length error or empty-document warning (in place; returns it).
    Every engine checks its records here, so that they all write the same error and warning."""
    if record.error is None:
        if len(record.text) > max_length:
            record.error = (f"document {record.id} has {len(record.text)} characters, more than "
                            f"--max-length {max_length}; split it or raise the limit")
        elif not record.text.strip():
            record.warning = "empty document"
    return record


def is_output_record(value: Any) -> bool:
    """Whether a parsed JSON value is an output record (an object with an ``id`` and ``triples`` or
    an ``error``)."""
    return isinstance(value, dict) and "id" in value and ("triples" in value or "error" in value)


# ---------------------------------------------------------------------------------- writing
def dump_record(result: Dict[str, Any]) -> str:
    """One output line (without its newline), as every engine writes it."""
    return json.dumps(result, ensure_ascii=False)


def jsonl_bytes(lines: Iterable[str]) -> bytes:
    """The content of a JSONL file of output lines (``dump_record``'s), one per line."""
    return "".join(line + "\n" for line in lines).encode("utf8")


# ---------------------------------------------------------------------------------- reading output
def read_output_jsonl(data: bytes) -> Iterator[Dict[str, Any]]:
    """The records of a whole JSONL output file (a byte-order mark at its start dropped, blank lines
    skipped)."""
    for line in strip_bom(data).decode("utf8").split("\n"):
        if line:
            yield json.loads(line)


# ---------------------------------------------------------------------------------- reading input
def _decode(raw: bytes, where: str) -> Tuple[Optional[str], Optional[str]]:
    try:
        return raw.decode("utf8"), None
    except UnicodeDecodeError as err:
        return None, f"{where}: invalid UTF-8 at byte {err.start}"


def _unencodable(text: str, where: str) -> Optional[str]:
    """An error when ``text`` cannot be written as UTF-8 (a lone surrogate from a JSON escape)."""
    try:
        text.encode("utf8")
    except UnicodeEncodeError as err:
        return f"{where}: the record holds a lone surrogate {text[err.start]!r}, which cannot be written as UTF-8"
    return None


def iter_lines(handle: IO[bytes]) -> Iterator[Tuple[int, bytes]]:
    """(line number from 1, line without its end) of a binary input; lines end at b"\\n" only. A
    byte-order mark at the start of the input is dropped."""
    for n, raw in numbered_lines(handle):
        yield n, raw.rstrip(b"\r\n")


def read_inputs(path: str, input_format: str = "auto", max_length: int = 1_000_000) -> Iterator[InputRecord]:
    """Yield one InputRecord per document, lazily (the input is never loaded whole). A missing or
    empty input raises ValueError here, before anything is read or written."""
    if input_format not in ("auto", "text", "jsonl"):
        raise ValueError(f"Unknown input format '{input_format}': use auto, text or jsonl.")
    if path != "-" and Path(path).is_dir():
        files = sorted(Path(path).glob("*.txt"))
        if not files:
            raise ValueError(f"{path} has no .txt files.")
        records = _read_dir(files)
    else:
        fmt = input_format
        if fmt == "auto":
            fmt = "jsonl" if path != "-" and Path(path).suffix in (".jsonl", ".json") else "text"
        if path != "-" and not Path(path).is_file():
            raise ValueError(f"Input {path} does not exist: give a text file, a .jsonl file, a directory or -.")
        records = read_lines(path, parse_jsonl_line if fmt == "jsonl" else parse_text_line)
    return _checked(records, max_length)


def _checked(records: Iterator[InputRecord], max_length: int) -> Iterator[InputRecord]:
    for record in records:
        yield check_record(record, max_length)


def _open(path: str) -> IO[bytes]:
    return sys.stdin.buffer if path == "-" else open(path, "rb")


def read_lines(path: str, parse: Callable[[int, bytes], InputRecord]) -> Iterator[InputRecord]:
    """The records of a line-based input (a file, or ``-`` for stdin), each line made a record by
    ``parse`` (``parse_text_line`` or ``parse_jsonl_line``), one line read at a time."""
    handle = _open(path)
    try:
        for n, raw in iter_lines(handle):
            yield parse(n, raw)
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()


def parse_text_line(n: int, raw: bytes, where: Optional[str] = None, default_id: Any = None) -> InputRecord:
    """The record of line ``n`` (1-based, without its line end) of a text input: one document.
    ``where`` names the line in messages (default ``line n``), ``default_id`` is its id (default n)."""
    text, error = _decode(raw, where or f"line {n}")
    return InputRecord(id=n if default_id is None else default_id, text=text or "", error=error, line=n)


def parse_jsonl_line(n: int, raw: bytes, where: Optional[str] = None, default_id: Any = None) -> InputRecord:
    """The record of line ``n`` of a JSONL input; a line that is not a JSON object with a string
    ``text`` becomes an error record. ``where`` and ``default_id`` as in ``parse_text_line``."""
    where = where or f"line {n}"
    default_id = n if default_id is None else default_id
    try:
        data = json_line(raw, where)  # the readers' one decoder; its error becomes the record's
    except JsonLineError as err:
        message = str(err)
        return InputRecord(id=None, error=message[:-1] if message.endswith(".") else message, line=n)
    if data is BLANK_LINE:
        return InputRecord(id=default_id, warning="empty line", line=n)
    return record_from_object(data, where, default_id, n)


def record_from_object(data: Any, where: str, default_id: Any, line: Optional[int]) -> InputRecord:
    """The record of one parsed JSON value (a JSONL line, a table row): an object with a string
    ``text``, an optional ``id`` (``default_id`` when absent) and any other fields (kept as meta)."""
    # an error record keeps the record's own id when it has one; the line is in its own field
    own_id = data.get("id", default_id) if isinstance(data, dict) else None
    error = _unencodable(json.dumps(data, ensure_ascii=False), where)
    if error:
        if _unencodable(json.dumps(own_id, ensure_ascii=False), ""):
            own_id = None
        return InputRecord(id=own_id, error=error, line=line)
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        return InputRecord(id=own_id, error=f"{where}: expected an object with a string 'text' field", line=line)
    meta = {k: v for k, v in data.items() if k not in ("text", "id")}
    return InputRecord(id=own_id, text=data["text"], meta=meta, line=line)


def parse_file(name: str, raw: bytes) -> InputRecord:
    """The record of one file of a folder input: the whole file is one document, ``name`` its id
    (a byte-order mark at its start dropped)."""
    text, error = _decode(strip_bom(raw), name)
    return InputRecord(id=name, text=text or "", error=error)


def _read_dir(files: List[Path]) -> Iterator[InputRecord]:
    for file in files:
        try:
            raw = file.read_bytes()
        except OSError as err:  # a folder named x.txt, a broken link, no permission
            yield InputRecord(id=file.name, error=f"{file.name}: cannot be read as a file ({err.strerror or err})")
            continue
        yield parse_file(file.name, raw)
