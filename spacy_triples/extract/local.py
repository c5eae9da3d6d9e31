"""Run a pipeline over a large text collection, streaming (``spacy-triples extract``).

Inputs: a text file (one document per line), a JSONL file with a ``text`` field (other fields are kept
as ``meta``), a directory of ``.txt`` files (one document each), or ``-`` for stdin. Output: one JSON
record per input document, in input order::

    {"id": ..., "text": ..., "triples": [Triple.to_dict(), ...], "meta": {...}}

A record that cannot be processed (invalid UTF-8, a lone surrogate, malformed JSON, no text, longer
than ``max_length``, a file of a folder that cannot be read) gets ``"error": "..."`` and no triples;
its ``id`` is the record's own (the line number for text lines, ``null`` when a JSONL line does not
parse) and ``"line"`` gives its line in the input. A document on which the pipeline raises gets
``"error"`` too (the exception's type and message): its batch is run again one document at a time,
so only that document fails. An empty document gets ``"warning"``. Nothing stops the run, and
everything written so far stays written.

A UTF-8 byte-order mark at the start of a file (or of stdin) is not part of the text: it is dropped,
and character offsets count from the character after it.
"""
import json
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Deque, Dict, Iterable, Iterator, List, Optional, Tuple

from ..safe_io import numbered_lines, strip_bom


@dataclass
class InputRecord:
    id: Any
    text: str = ""
    meta: Dict[str, Any] = field(default_factory=dict)
    error: Optional[str] = None
    warning: Optional[str] = None
    line: Optional[int] = None


@dataclass
class ExtractSummary:
    read: int = 0
    written: int = 0
    failed: int = 0
    triples: int = 0
    seconds: float = 0.0
    resumed: int = 0

    def line(self) -> str:
        rate = self.read / self.seconds if self.seconds else 0.0
        resumed = f"{self.resumed} already written (resumed), " if self.resumed else ""
        return (f"{resumed}{self.read} documents read, {self.written} written, {self.failed} failed, "
                f"{self.triples} triples, {self.seconds:.1f} s ({rate:.1f} docs/s)")


def check_positive(**values: int) -> None:
    """ValueError naming the option when a count is not a positive integer (0 would process nothing)."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            option = "--" + name.replace("_", "-")
            raise ValueError(f"{option} must be a positive integer, got {value!r}.")


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
        records = _read_jsonl(path) if fmt == "jsonl" else _read_text(path)
    return _checked(records, max_length)


def _checked(records: Iterator[InputRecord], max_length: int) -> Iterator[InputRecord]:
    for record in records:
        yield check_record(record, max_length)


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


def _open(path: str) -> IO[bytes]:
    return sys.stdin.buffer if path == "-" else open(path, "rb")


def _read_text(path: str) -> Iterator[InputRecord]:
    handle = _open(path)
    try:
        for n, raw in iter_lines(handle):
            yield parse_text_line(n, raw)
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()


def _read_jsonl(path: str) -> Iterator[InputRecord]:
    handle = _open(path)
    try:
        for n, raw in iter_lines(handle):
            yield parse_jsonl_line(n, raw)
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
    text, error = _decode(raw, where)
    if error:
        return InputRecord(id=None, error=error, line=n)
    if not text.strip():
        return InputRecord(id=default_id, warning="empty line", line=n)
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        msg = err.msg if isinstance(err, json.JSONDecodeError) else "nested too deeply"
        return InputRecord(id=None, error=f"{where}: malformed JSON ({msg})", line=n)
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


def resume_prefix(path: str) -> Tuple[List[Any], int]:
    """Ids of the records a previous, possibly interrupted, run already wrote to ``path``, and the
    byte length of those complete lines.

    Output lines are written whole and in input order, so the complete JSON lines at the start of
    the file are the first records of the input; a trailing partial line (the process died while
    writing it) is not counted, and the caller cuts it off (``truncate_output``) once the ids are
    checked against the input. A complete line that is not an ``extract`` record means the file is
    something else: ValueError, and the file is not touched.
    """
    data = Path(path).read_bytes()
    ids, good = [], 0
    lines = data.splitlines(keepends=True)
    for k, line in enumerate(lines, 1):
        if not line.endswith(b"\n"):
            break  # the partial last line of an interrupted run
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            record = None
        if not (isinstance(record, dict) and "id" in record and ("triples" in record or "error" in record)):
            raise ValueError(
                f"Cannot resume: {path}, line {k} is not a record written by 'extract', so {path} is not the "
                "output of an earlier run. Give the output file of that run, or another path without --resume."
            )
        ids.append(record["id"])
        good += len(line)
    return ids, good


def truncate_output(path: str, size: int) -> None:
    """Cut the partial last line of an interrupted run, so that appending continues valid JSONL."""
    if Path(path).stat().st_size > size:
        with open(path, "r+b") as handle:
            handle.truncate(size)


def skip_done(records: Iterator[InputRecord], done: List[Any], output: str) -> Iterator[InputRecord]:
    """Skip the first ``len(done)`` records, checking that they are the ones already written.

    The check runs now, before anything is written: a mismatch raises ValueError and the output
    stays as it is. Returns the iterator of the remaining records.
    """
    records = iter(records)
    for n, done_id in enumerate(done):
        record = next(records, None)
        if record is None or record.id != done_id:
            found = "the end of the input" if record is None else f"id {record.id!r}"
            raise ValueError(
                f"Cannot resume: {output} does not start with the documents of this input (output line "
                f"{n + 1} has id {done_id!r}, the input has {found}). Use the same input, or remove "
                "the output file and run without --resume."
            )
    return records


def extract_to_jsonl(nlp, records: Iterator[InputRecord], out: IO[str], batch_size: int = 64,
                     n_process: int = 1, progress: bool = True) -> ExtractSummary:
    """Stream records through ``nlp.pipe`` and write one JSON line per record, in input order."""
    check_positive(batch_size=batch_size)
    if n_process != -1:
        check_positive(n_process=n_process)
    summary = ExtractSummary()
    start = time.perf_counter()

    def counted():
        for record in records:
            summary.read += 1
            yield record

    stream = pipe_records(nlp, counted(), batch_size, n_process)
    if progress:
        from tqdm import tqdm

        stream = tqdm(stream, unit=" docs", file=sys.stderr, desc="extract")
    try:
        for record, doc in stream:
            result = output_record(record, doc)
            if record.error:
                summary.failed += 1
            else:
                summary.triples += len(result["triples"])
            out.write(dump_record(result) + "\n")
            summary.written += 1
    finally:
        out.flush()
        summary.seconds = time.perf_counter() - start
    return summary


def pipe_records(nlp, records: Iterable[InputRecord], batch_size: int = 64,
                 n_process: int = 1) -> Iterator[Tuple[InputRecord, Any]]:
    """(record, Doc) for every record, in input order, through ``nlp.pipe``; the Doc is None for an
    error record. Records with an error pass through the pipeline as empty texts, so that the order
    is kept with several processes too.

    When ``nlp.pipe`` raises, the records it had taken and not given back (the failing batch, and
    with ``n_process`` > 1 the batches sent ahead) are run again in this process one document at a
    time: a document that raises again becomes an error record naming the exception (``record.error``
    is set), the others get their Doc, and ``nlp.pipe`` starts again on the rest of the input. An
    exception raised while reading the input is not the pipeline's: it propagates.
    """
    source = iter(records)
    pending: Deque[InputRecord] = deque()  # taken by nlp.pipe, not given back yet
    input_failed: List[BaseException] = []

    def feed():
        while True:
            try:
                record = next(source)
            except StopIteration:
                return
            except BaseException as err:
                input_failed.append(err)
                raise
            pending.append(record)
            yield ("" if record.error else record.text), record

    while True:
        try:
            for doc, record in nlp.pipe(feed(), as_tuples=True, batch_size=batch_size, n_process=n_process):
                pending.popleft()
                yield record, (None if record.error else doc)
            return
        except Exception:
            if input_failed or not pending:
                raise  # reading the input failed, or the pipeline fails before any document
            retry = list(pending)
            pending.clear()
        for record in retry:
            yield record, run_alone(nlp, record)


def run_alone(nlp, record: InputRecord):
    """The Doc of one record processed on its own; None for an error record. When the pipeline
    raises on it, the record becomes an error record that names the exception."""
    if record.error:
        return None
    try:
        return next(iter(nlp.pipe([record.text], batch_size=1)))
    except Exception as err:
        message = str(err).strip() or "(no message)"
        record.error = (f"document {record.id}: the pipeline raised {type(err).__name__}: {message} "
                        "(this document is skipped; the other documents of its batch were processed)")
        return None


def output_record(record: InputRecord, doc) -> Dict[str, Any]:
    """The output record of one input record and its processed Doc (ignored for an error record):
    ``{"id", "text", "triples" | "error" (+ "line"), "warning"?, "meta"?}``, keys in that order."""
    result = {"id": record.id, "text": record.text}
    if record.error:
        result["error"] = record.error
        if record.line is not None:
            result["line"] = record.line
    else:
        result["triples"] = [t.to_dict() for t in doc._.triples]
    if record.warning:
        result["warning"] = record.warning
    if record.meta:
        result["meta"] = record.meta
    return result


def dump_record(result: Dict[str, Any]) -> str:
    """One output line (without its newline), as every engine writes it."""
    return json.dumps(result, ensure_ascii=False)
