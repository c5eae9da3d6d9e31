"""The local engine: run a pipeline over a large text collection in this process (or ``n_process``
processes), streaming, into one JSONL file (``spacy-triples extract``).

The input is read lazily and each output line is written as soon as its document is done, in input
order; the records and how they are read and written are those of :mod:`.records`. A document on
which the pipeline raises becomes an error record (its batch is run again one document at a time,
so only that document fails: :func:`.run.pipe_records`). Nothing stops the run, and everything
written so far stays written; ``--resume`` continues an interrupted run (``resume_prefix``,
``skip_done``, ``truncate_output``).
"""
import json
import sys
import time
from pathlib import Path
from typing import IO, Any, Iterator, List, Tuple

# the records and the run's helpers stay importable from here, where they were before extract/ was split
from .records import (InputRecord, build_record, check_record, doc_record, dump_record,  # noqa: F401
                      is_output_record, iter_lines, output_record, parse_file, parse_jsonl_line,
                      parse_text_line, read_inputs, read_lines, record_from_object)
from .run import ExtractSummary, check_positive, pipe_records, run_alone  # noqa: F401


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


# ---------------------------------------------------------------------------------- --resume
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
        if not is_output_record(record):
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
