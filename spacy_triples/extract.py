"""Run a pipeline over a large text collection, streaming (``spacy-triples extract``).

Inputs: a text file (one document per line), a JSONL file with a ``text`` field (other fields are kept
as ``meta``), a directory of ``.txt`` files (one document each), or ``-`` for stdin. Output: one JSON
record per input document, in input order::

    {"id": ..., "text": ..., "triples": [Triple.to_dict(), ...], "meta": {...}}

A record that cannot be processed (invalid UTF-8, malformed JSON, no text, longer than
``max_length``) gets ``"error": "..."`` and no triples; an empty document gets ``"warning"``. Nothing
stops the run, and everything written so far stays written.
"""
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Dict, Iterator, List, Optional, Tuple


@dataclass
class InputRecord:
    id: Any
    text: str = ""
    meta: Dict[str, Any] = field(default_factory=dict)
    error: Optional[str] = None
    warning: Optional[str] = None


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


def _decode(raw: bytes, where: str) -> Tuple[Optional[str], Optional[str]]:
    try:
        return raw.decode("utf8"), None
    except UnicodeDecodeError as err:
        return None, f"{where}: invalid UTF-8 at byte {err.start}"


def _lines(handle: IO[bytes]) -> Iterator[Tuple[int, bytes]]:
    for n, raw in enumerate(handle, 1):
        yield n, raw.rstrip(b"\r\n")


def read_inputs(path: str, input_format: str = "auto", max_length: int = 1_000_000) -> Iterator[InputRecord]:
    """Yield one InputRecord per document, lazily (the input is never loaded whole)."""
    if path != "-" and Path(path).is_dir():
        records = _read_dir(Path(path))
    else:
        fmt = input_format
        if fmt == "auto":
            fmt = "jsonl" if path != "-" and Path(path).suffix in (".jsonl", ".json") else "text"
        if path != "-" and not Path(path).is_file():
            raise ValueError(f"Input {path} does not exist: give a text file, a .jsonl file, a directory or -.")
        records = _read_jsonl(path) if fmt == "jsonl" else _read_text(path)
    for record in records:
        if record.error is None:
            if len(record.text) > max_length:
                record.error = (f"document {record.id} has {len(record.text)} characters, more than "
                                f"--max-length {max_length}; split it or raise the limit")
            elif not record.text.strip():
                record.warning = "empty document"
        yield record


def _open(path: str) -> IO[bytes]:
    return sys.stdin.buffer if path == "-" else open(path, "rb")


def _read_text(path: str) -> Iterator[InputRecord]:
    handle = _open(path)
    try:
        for n, raw in _lines(handle):
            text, error = _decode(raw, f"line {n}")
            yield InputRecord(id=n, text=text or "", error=error)
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()


def _read_jsonl(path: str) -> Iterator[InputRecord]:
    handle = _open(path)
    try:
        for n, raw in _lines(handle):
            text, error = _decode(raw, f"line {n}")
            if error:
                yield InputRecord(id=n, error=error)
                continue
            if not text.strip():
                yield InputRecord(id=n, warning="empty line")
                continue
            try:
                data = json.loads(text)
            except json.JSONDecodeError as err:
                yield InputRecord(id=n, error=f"line {n}: malformed JSON ({err.msg})")
                continue
            if not isinstance(data, dict) or not isinstance(data.get("text"), str):
                yield InputRecord(id=n, error=f"line {n}: expected an object with a string 'text' field")
                continue
            meta = {k: v for k, v in data.items() if k != "text"}
            yield InputRecord(id=meta.pop("id", n), text=data["text"], meta=meta)
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()


def _read_dir(folder: Path) -> Iterator[InputRecord]:
    files = sorted(folder.glob("*.txt"))
    if not files:
        raise ValueError(f"{folder} has no .txt files.")
    for file in files:
        text, error = _decode(file.read_bytes(), file.name)
        yield InputRecord(id=file.name, text=text or "", error=error)


def resume_prefix(path: str) -> List[Any]:
    """Ids of the records a previous, possibly interrupted, run already wrote to ``path``.

    Output lines are written whole and in input order, so the complete JSON lines at the start of
    the file are the first records of the input. A trailing partial line (the process died while
    writing it) is cut off the file, so that appending continues a valid JSONL file.
    """
    file = Path(path)
    data = file.read_bytes()
    ids, good = [], 0
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break
        try:
            ids.append(json.loads(line)["id"])
        except (ValueError, KeyError, TypeError):
            break
        good += len(line)
    if good < len(data):
        with open(file, "r+b") as handle:
            handle.truncate(good)
    return ids


def skip_done(records: Iterator[InputRecord], done: List[Any], output: str) -> Iterator[InputRecord]:
    """Skip the first ``len(done)`` records, checking that they are the ones already written."""
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
    yield from records


def extract_to_jsonl(nlp, records: Iterator[InputRecord], out: IO[str], batch_size: int = 64,
                     n_process: int = 1, progress: bool = True) -> ExtractSummary:
    """Stream records through ``nlp.pipe`` and write one JSON line per record, in input order."""
    summary = ExtractSummary()
    start = time.perf_counter()

    def texts():
        for record in records:
            summary.read += 1
            # records with an error still pass through (as empty text) so the output keeps input order
            yield ("" if record.error else record.text), record

    stream = nlp.pipe(texts(), as_tuples=True, batch_size=batch_size, n_process=n_process)
    if progress:
        from tqdm import tqdm

        stream = tqdm(stream, unit=" docs", file=sys.stderr, desc="extract")
    try:
        for doc, record in stream:
            result = {"id": record.id, "text": record.text}
            if record.error:
                result["error"] = record.error
                summary.failed += 1
            else:
                result["triples"] = [t.to_dict() for t in doc._.triples]
                summary.triples += len(result["triples"])
            if record.warning:
                result["warning"] = record.warning
            if record.meta:
                result["meta"] = record.meta
            out.write(json.dumps(result, ensure_ascii=False) + "\n")
            summary.written += 1
    finally:
        out.flush()
        summary.seconds = time.perf_counter() - start
    return summary
