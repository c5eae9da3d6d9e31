"""Corpus-scale extraction on Ray Data (``spacy-triples extract ... --engine ray``).

Needs ``pip install "spacy-triples[ray]"``. The records are those of the single-process ``extract``
(``extract.py``), built by the same functions, so a Ray run and a local run write the same JSON.

* ``read_records(path)``: a Ray Dataset of input records read from text lines, JSONL, Parquet or a
  folder of ``.txt`` files (local or any filesystem Ray reads, such as ``s3://``). Every line or row
  becomes one record, a bad one an error record, as ``extract`` reads them.
* ``extract_dataset(ds, model)``: the output records of a Dataset, computed by a pool of actors
  that each load the pipeline once (``map_batches`` with a callable class); a killed actor is
  restarted and its batch run again.
* ``extract_to_folder(model, input, output)``: both, written as JSONL or Parquet shards, with the
  ``read / written / failed`` summary of ``extract``.

Order: every record carries its place in the input, ``seq`` = (number of its file in the sorted list
of input files << 32) + its line (or row) number in that file. Shards are named ``part-<first seq,
20 digits>`` and each holds consecutive records in order, so the shards in name order are the
input order: the JSONL shards concatenated are the file ``extract`` writes (scores may differ in the
last digits, as padding depends on which documents share a batch).

Ids: a record without its own id gets its line (row) number, as in ``extract``; when the input has
several files, ``"<file>:<line>"`` so that ids stay unique. An id crosses the Arrow boundary as JSON,
so ``1`` stays an int and ``"1"`` a string.
"""
import dataclasses
import datetime
import decimal
import io
import json
import os
import posixpath
import sys
import time
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import ray
import ray.data
from ray.data.block import Block
from ray.data.datasource import Datasink, FileBasedDatasource

from .local import (ExtractSummary, InputRecord, check_positive, check_record, dump_record, output_record,
                      iter_lines, parse_file, parse_jsonl_line, parse_text_line, pipe_records, record_from_object)
from ..safe_io import strip_bom
from ..util import load_pipeline

# columns of the records read by read_records (reserved names: a Dataset of your own has `text`, ...)
SEQ, INPUT = "_seq", "_input"
LINE_BITS = 32
INPUT_FORMATS = ("auto", "text", "jsonl", "parquet")
OUTPUT_FORMATS = ("jsonl", "parquet")
_SUFFIXES = {".txt": "text", ".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
_COMPRESSION = (".gz", ".bz2", ".zst", ".lz4", ".br", ".snappy")
_PARQUET_BATCH = 1024
OUTPUT_SCHEMA = pa.schema([("seq", pa.int64()), ("record", pa.string()), ("failed", pa.bool_()),
                           ("n_triples", pa.int64())])
_INT_PAIR = pa.list_(pa.int64())
TRIPLE_TYPE = pa.struct([
    ("subject", pa.string()), ("subject_label", pa.string()), ("subject_tokens", _INT_PAIR),
    ("subject_chars", _INT_PAIR), ("relation", pa.string()), ("object", pa.string()),
    ("object_label", pa.string()), ("object_tokens", _INT_PAIR), ("object_chars", _INT_PAIR),
    ("score", pa.float64()),
])
# Parquet shards: the record's fields as columns; `id` and `meta` as JSON text (any JSON value)
PARQUET_SCHEMA = pa.schema([
    ("seq", pa.int64()), ("id", pa.string()), ("text", pa.string()), ("triples", pa.list_(TRIPLE_TYPE)),
    ("error", pa.string()), ("line", pa.int64()), ("warning", pa.string()), ("meta", pa.string()),
])


# ---------------------------------------------------------------------------------- pure helpers
def make_seq(file_index: int, n: int) -> int:
    """The order key of record ``n`` (1-based) of input file ``file_index`` (0-based)."""
    if not 0 <= n < 1 << LINE_BITS:
        raise ValueError(f"A single input file holds more than {(1 << LINE_BITS) - 1} records: split it.")
    return (file_index << LINE_BITS) | n


def split_seq(seq: int) -> Tuple[int, int]:
    """(file number, line or row number) of an order key."""
    return seq >> LINE_BITS, seq & ((1 << LINE_BITS) - 1)


def input_kind(name: str) -> Optional[str]:
    """text / jsonl / parquet from a file name (``.gz`` and other compression suffixes skipped)."""
    lower = name.lower()
    for suffix in _COMPRESSION:
        if lower.endswith(suffix):
            lower = lower[: -len(suffix)]
    return _SUFFIXES.get(posixpath.splitext(lower)[1])


def choose_format(names: List[str], input_format: str, is_folder: bool) -> Tuple[str, List[str]]:
    """The read format and the files to read, from the files found and ``--input-format``.

    A file: its format is given, or taken from its name (.jsonl/.json, .parquet, else text lines).
    A folder, ``auto``: the kind of file it holds (.txt: one document per file as ``extract`` reads a
    folder; .jsonl/.json: JSONL shards; .parquet: Parquet shards); other files are left out, and a
    mix of kinds is refused. A folder with a given format: every file in it, read in that format.
    """
    if input_format not in INPUT_FORMATS:
        raise ValueError(f"Unknown input format '{input_format}': use {', '.join(INPUT_FORMATS)}.")
    if not is_folder:
        if input_format != "auto":
            return input_format, names
        kind = input_kind(names[0])
        return ("text" if kind in (None, "text") else kind), names
    if input_format != "auto":
        return input_format, names
    kinds: Dict[str, List[str]] = {}
    for name in names:
        kind = input_kind(name)
        if kind:
            kinds.setdefault(kind, []).append(name)
    if not kinds:
        raise ValueError("The input folder holds no .txt, .jsonl, .json or .parquet files.")
    if len(kinds) > 1:
        found = ", ".join(f"{len(v)} {k}" for k, v in sorted(kinds.items()))
        raise ValueError(f"The input folder holds several kinds of files ({found}): give --input-format, "
                         "or one kind of file per folder.")
    (kind, files), = kinds.items()
    return ("files" if kind == "text" else kind), files


def json_value(value: Any) -> Any:
    """A table value as JSON data: dates and times as ISO text, decimals as text, numpy scalars and
    arrays as numbers and lists. TypeError for what JSON cannot hold (bytes, durations, ...)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if type(value).__module__ == "numpy":
        if hasattr(value, "tolist"):
            return json_value(value.tolist())
    raise TypeError(f"a {type(value).__name__} value, which JSON cannot hold")


def record_from_row(row: Dict[str, Any], where: str, default_id: Any, line: Optional[int]) -> InputRecord:
    """The record of one table row (Parquet, or a Dataset of your own): a ``text`` column, an
    optional ``id`` (``default_id`` when there is none), other columns as meta. A value JSON cannot
    hold makes an error record that names its column."""
    data = {}
    for column, value in row.items():
        try:
            data[column] = json_value(value)
        except TypeError as err:
            return InputRecord(id=_id_or_none(row, default_id), line=line, error=(
                f"{where}: column '{column}' holds {err}; drop the column or convert it (to text)"))
    return record_from_object(data, where, default_id, line)


def _id_or_none(row: Dict[str, Any], default_id: Any) -> Any:
    """The id of a row that makes an error record: its own when JSON can hold it, else None."""
    if "id" not in row:
        return default_id
    try:
        return json_value(row["id"])
    except TypeError:
        return None


def encode_record(record: InputRecord) -> str:
    """An input record as one JSON text for the Arrow column ``_input`` (ASCII, so any string,
    even one with a lone surrogate, crosses the boundary unchanged)."""
    return json.dumps(dataclasses.asdict(record))


def decode_record(text: str) -> InputRecord:
    return InputRecord(**json.loads(text))


def records_of_batch(batch: pa.Table, max_length: int, order_column: Optional[str] = None
                     ) -> Tuple[List[Optional[int]], List[InputRecord]]:
    """(order keys, records) of a batch: the ``_seq`` / ``_input`` columns of ``read_records``, or
    rows with ``text`` (+ ``id``, + meta) of a Dataset of your own, checked like ``extract``'s."""
    if INPUT in batch.column_names:
        return batch[SEQ].to_pylist(), [decode_record(t) for t in batch[INPUT].to_pylist()]
    seqs, records = [], []
    for row in batch.to_pylist():
        seq = row.pop(order_column) if order_column else None
        if order_column and not (isinstance(seq, int) and not isinstance(seq, bool)):
            raise ValueError(f"The order column '{order_column}' holds {seq!r}: it must hold whole numbers.")
        where = "row" if seq is None else f"row {seq}"
        seqs.append(seq)
        records.append(check_record(record_from_row(row, where, seq, None), max_length))
    return seqs, records


def parquet_row(record: Dict[str, Any], seq: Optional[int]) -> Dict[str, Any]:
    """An output record as a row of PARQUET_SCHEMA."""
    meta = record.get("meta")
    return {"seq": seq, "id": json.dumps(record["id"], ensure_ascii=False), "text": record["text"],
            "triples": record.get("triples"), "error": record.get("error"), "line": record.get("line"),
            "warning": record.get("warning"),
            "meta": None if meta is None else json.dumps(meta, ensure_ascii=False)}


def record_of_parquet_row(row: Dict[str, Any]) -> Dict[str, Any]:
    """The output record of a Parquet shard row (the inverse of ``parquet_row``), keys in ``extract``'s order."""
    record = {"id": json.loads(row["id"]), "text": row["text"]}
    if row["error"] is not None:
        record["error"] = row["error"]
        if row["line"] is not None:
            record["line"] = row["line"]
    else:
        record["triples"] = row["triples"]
    if row["warning"] is not None:
        record["warning"] = row["warning"]
    if row["meta"] is not None:
        record["meta"] = json.loads(row["meta"])
    return record


def shard_name(first_seq: Optional[int], task_index: int, output_format: str) -> str:
    """``part-<first seq, 20 digits>``, so that names sort in input order; a Dataset without order
    keys gets ``part-task<write task>`` (in input order as Ray runs with preserve_order)."""
    stem = f"part-{first_seq:020d}" if first_seq is not None else f"part-task{task_index:06d}"
    return f"{stem}.{output_format}"


def check_complete(shards: List[Dict[str, Any]], file_names: Optional[List[str]] = None) -> List[str]:
    """Problems with a written output, from the write results (one dict per shard: ``file``,
    ``first``, ``last`` order keys, and ``lines``: {file number: [records, first line, last line]}).
    Shards must not overlap (one record written twice, or name order not the input order), and every
    input file must be covered from line 1 with no gap (a record lost); ``file_names`` (the sorted
    input files) name them in the messages."""
    problems = []
    ordered = sorted((s for s in shards if s["first"] is not None), key=lambda s: s["first"])
    for a, b in zip(ordered, ordered[1:]):
        if b["first"] <= a["last"]:
            problems.append(f"shards {a['file']} and {b['file']} overlap (records {b['first']}..{a['last']})")
    for s in shards:
        if s.get("duplicates"):
            problems.append(f"shard {s['file']} holds {s['duplicates']} records twice")
    if not problems:
        files: Dict[int, List[int]] = {}
        for s in shards:
            for index, (count, first, last) in s["lines"].items():
                got = files.setdefault(int(index), [0, first, last])
                got[0] += count
                got[1], got[2] = min(got[1], first), max(got[2], last)
        for index, (count, first, last) in sorted(files.items()):
            if first != 1 or count != last:
                name = file_names[index] if file_names and index < len(file_names) else f"number {index}"
                problems.append(f"input file {name}: {count} records written for lines {first}..{last}, "
                                f"{last - count} missing")
    return problems


# ---------------------------------------------------------------------------------- reading
def _filesystem(path: str) -> Tuple[pafs.FileSystem, str]:
    if "://" in path:
        try:
            return pafs.FileSystem.from_uri(path)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as err:
            raise ValueError(f"Cannot open {path}: {err}") from err
    return pafs.LocalFileSystem(), os.path.abspath(path)


def _hidden(relative: str) -> bool:
    return any(part.startswith((".", "_")) for part in relative.split("/"))


def resolve_input(path: str, input_format: str = "auto") -> Tuple[pafs.FileSystem, List[str], str, str]:
    """(filesystem, sorted files, format, root) of an input path or folder; ValueError when there
    is nothing to read. Files and folders whose names start with '.' or '_' are left out, as Ray does."""
    fs, root = _filesystem(path)
    info = fs.get_file_info(root)
    if info.type == pafs.FileType.NotFound:
        raise ValueError(f"Input {path} does not exist: give a file or a folder (text, JSONL or Parquet).")
    if info.type == pafs.FileType.Directory:
        infos = fs.get_file_info(pafs.FileSelector(root, recursive=True))
        names = sorted(i.path for i in infos if i.type == pafs.FileType.File
                       and not _hidden(posixpath.relpath(i.path, root)))
        if not names:
            raise ValueError(f"Input folder {path} holds no files.")
        fmt, files = choose_format(names, input_format, is_folder=True)
    else:
        fmt, files = choose_format([info.path], input_format, is_folder=False)
    return fs, files, fmt, (root if info.type == pafs.FileType.Directory else posixpath.dirname(root))


class RecordsDatasource(FileBasedDatasource):
    """Input records read with Ray Data's file machinery (paths, filesystems, compression, retries),
    parsed line by line by ``extract``'s own functions, so that bad input makes the same error records."""

    def __init__(self, files: List[str], filesystem: pafs.FileSystem, fmt: str, root: str, max_length: int):
        super().__init__(files, filesystem=filesystem)
        self._fmt, self._max_length = fmt, max_length
        paths = sorted(self._paths())
        several = len(paths) > 1
        # (file number, name in messages and ids, several files?) of each path Ray passes to _read_stream
        self._names = ray.put({p: (k, posixpath.relpath(p, root) if root else posixpath.basename(p), several)
                               for k, p in enumerate(paths)})
        self._name_cache = None

    def _open_input_source(self, filesystem, path: str, **open_args):
        if self._fmt == "parquet":  # Parquet needs random access
            return filesystem.open_input_file(path)
        return super()._open_input_source(filesystem, path, **open_args)

    def _read_stream(self, f, path: str) -> Iterator[Block]:
        if self._name_cache is None:
            self._name_cache = ray.get(self._names)
        index, name, several = self._name_cache[path]
        yield from _blocks(self._records(f, name, several), index, self._max_length)

    def _records(self, f, name: str, several: bool) -> Iterator[Tuple[int, InputRecord]]:
        def where(n, kind="line"):
            return f"{name} {kind} {n}" if several else None

        def default_id(n):
            return f"{name}:{n}" if several else None

        if self._fmt == "files":
            yield 1, parse_file(name, f.readall())
        elif self._fmt in ("text", "jsonl"):
            parse = parse_text_line if self._fmt == "text" else parse_jsonl_line
            for n, raw in iter_lines(io.BufferedReader(f)):
                yield n, parse(n, raw, where(n), default_id(n))
        else:
            yield from _parquet_records(f, name, several)


def _parquet_records(f, name: str, several: bool) -> Iterator[Tuple[int, InputRecord]]:
    n = 0
    try:
        for batch in pq.ParquetFile(f).iter_batches(batch_size=_PARQUET_BATCH):
            for row in batch.to_pylist():
                n += 1
                where = f"{name} row {n}" if several else f"row {n}"
                yield n, record_from_row(row, where, f"{name}:{n}" if several else n, n)
    except (pa.ArrowInvalid, OSError) as err:
        # a file that is not Parquet, or is cut: one error record says so (after the rows it gave)
        what = "cannot be read as Parquet" if n == 0 else f"cannot be read after row {n}"
        yield n + 1, InputRecord(id=name, error=f"{name}: {what} ({err})", line=n + 1)


def _blocks(records: Iterable[Tuple[int, InputRecord]], index: int, max_length: int,
            rows_per_block: int = 1024) -> Iterator[Block]:
    seqs, inputs = [], []
    for n, record in records:
        seqs.append(make_seq(index, n))
        inputs.append(encode_record(check_record(record, max_length)))
        if len(seqs) == rows_per_block:
            yield pa.table({SEQ: pa.array(seqs, pa.int64()), INPUT: pa.array(inputs, pa.string())})
            seqs, inputs = [], []
    if seqs:
        yield pa.table({SEQ: pa.array(seqs, pa.int64()), INPUT: pa.array(inputs, pa.string())})


def read_records(path: str, input_format: str = "auto", max_length: int = 1_000_000,
                 concurrency: int = 2, bytes_per_block: int = 1 << 20) -> "ray.data.Dataset":
    """A Ray Dataset of the input records of ``path`` (columns ``_seq``, ``_input``), for ``extract_dataset``.

    The read tasks ask for no CPU (at most ``concurrency`` at a time): reading and parsing lines costs
    little beside the pipeline, and actors that hold every CPU must not stop the reading.
    ``bytes_per_block`` sets the Dataset's block size (Ray's default is 128 MiB): one block is one
    task of an actor, so 1 MiB of text lets one big file feed every actor as it is read, and a
    killed actor redo little."""
    check_positive(max_length=max_length, concurrency=concurrency, bytes_per_block=bytes_per_block)
    fs, files, fmt, root = resolve_input(path, input_format)
    ds = ray.data.read_datasource(RecordsDatasource(files, fs, fmt, root, max_length), num_cpus=0,
                                  concurrency=min(concurrency, len(files)))
    ds.context.target_max_block_size = bytes_per_block
    return ds


# ---------------------------------------------------------------------------------- extracting
class TripleExtractorActor:
    """The callable class of ``map_batches``: each actor loads the pipeline once, then turns batches
    of input records into output records (columns of OUTPUT_SCHEMA)."""

    def __init__(self, model: str, batch_size: int, max_length: int, use_gpu: bool,
                 order_column: Optional[str] = None, precision: Optional[str] = None):
        import spacy

        if use_gpu:
            spacy.require_gpu()
        self.nlp = spacy.load(model)
        if precision is not None:  # fp32, bf16, int8 or auto, decided on the actor's own CPU
            from ..training.precision import set_precision

            set_precision(self.nlp, precision, save=False)
        self.nlp.max_length = max_length
        self.batch_size, self.max_length, self.order_column = batch_size, max_length, order_column

    def __call__(self, batch: pa.Table) -> pa.Table:
        seqs, records = records_of_batch(batch, self.max_length, self.order_column)
        lines, failed, n_triples = [], [], []
        # error records pass through, in order; a document the pipeline raises on becomes an error
        # record and the rest of its batch is processed (as in extract)
        for record, doc in pipe_records(self.nlp, records, self.batch_size):
            result = output_record(record, doc)
            lines.append(dump_record(result))
            failed.append(bool(record.error))
            n_triples.append(len(result.get("triples", ())))
        return pa.table([pa.array(seqs, pa.int64()), pa.array(lines, pa.string()), pa.array(failed, pa.bool_()),
                         pa.array(n_triples, pa.int64())], schema=OUTPUT_SCHEMA)


def check_options(num_actors: int, batch_size: int, gpus_per_actor: float, max_length: int) -> None:
    check_positive(num_actors=num_actors, batch_size=batch_size, max_length=max_length)
    if isinstance(gpus_per_actor, bool) or not isinstance(gpus_per_actor, (int, float)) or gpus_per_actor < 0:
        raise ValueError(f"--gpus-per-actor must be 0 (CPU) or more, got {gpus_per_actor!r}.")


def extract_dataset(ds: "ray.data.Dataset", model: str, *, num_actors: int = 1, batch_size: int = 64,
                    gpus_per_actor: float = 0, max_length: int = 1_000_000,
                    order_column: Optional[str] = None, precision: Optional[str] = None) -> "ray.data.Dataset":
    """The output records of ``ds``, one row per input row, computed by ``num_actors`` actors.

    ``ds``: from ``read_records``, or a Dataset of your own with a ``text`` column, an optional
    ``id`` and any other columns (kept as ``meta``); ``order_column`` names a column of whole numbers
    giving the input order (it becomes ``seq`` and leaves the meta). ``model``: a pipeline path or
    package every actor can load. Rows: ``seq`` (order key, or null), ``record`` (the JSON line
    ``extract`` writes: ``json.loads`` it), ``failed`` (an error record) and ``n_triples``.
    The returned Dataset keeps the input order (``preserve_order``). A killed actor is restarted and
    its batch retried (``max_restarts=-1, max_task_retries=-1``).
    """
    check_options(num_actors, batch_size, gpus_per_actor, max_length)
    schema = ds.schema(fetch_if_missing=False)
    if schema is not None and INPUT not in schema.names and "text" not in schema.names:
        raise ValueError(f"The dataset has no 'text' column (columns: {', '.join(schema.names)}).")
    if schema is not None and order_column and order_column not in schema.names:
        raise ValueError(f"The dataset has no order column '{order_column}'.")
    out = ds.map_batches(
        TripleExtractorActor,
        fn_constructor_kwargs={"model": str(model), "batch_size": batch_size, "max_length": max_length,
                               "use_gpu": gpus_per_actor > 0, "order_column": order_column,
                               "precision": precision},
        batch_size=batch_size,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=num_actors),
        num_gpus=gpus_per_actor or None,
        # Ray Data gives its actor pools max_restarts=-1 and max_task_retries=-1 (passing them is
        # deprecated): a killed actor is restarted and its batch retried; tests/test_ray.py checks it
    )
    out.context.execution_options.preserve_order = True
    return out


# ---------------------------------------------------------------------------------- writing
class ShardDatasink(Datasink):
    """Writes output records as JSONL or Parquet shards (``part-<first seq>``) in a folder. Each
    write task sorts its rows by ``seq`` and writes through a hidden temporary name renamed when
    complete, so a retried task rewrites its own shard and no half-written shard is ever visible.
    ``write`` returns the shard's accounting; ``result`` gathers them on the driver."""

    def __init__(self, folder: str, output_format: str = "jsonl", rows_per_shard: int = 10_000):
        if output_format not in OUTPUT_FORMATS:
            raise ValueError(f"Unknown output format '{output_format}': use jsonl or parquet.")
        check_positive(rows_per_shard=rows_per_shard)
        self.folder, self.output_format, self.rows_per_shard = folder, output_format, rows_per_shard
        self.filesystem, self.root = _filesystem(folder)
        self.shards: List[Dict[str, Any]] = []

    def on_write_start(self, schema=None) -> None:
        self.filesystem.create_dir(self.root, recursive=True)

    def write(self, blocks: Iterable[Block], ctx) -> Dict[str, Any]:
        tables = [pa.Table.from_pandas(b) if not isinstance(b, pa.Table) else b for b in blocks]
        table = pa.concat_tables([t.select(OUTPUT_SCHEMA.names).cast(OUTPUT_SCHEMA) for t in tables]) \
            if tables else OUTPUT_SCHEMA.empty_table()
        has_seq = table.num_rows and table["seq"].null_count == 0
        if has_seq:
            table = table.sort_by("seq")
        seqs = table["seq"].to_pylist()
        name = shard_name(seqs[0] if has_seq else None, ctx.task_idx, self.output_format)
        stats = {"file": name, "rows": table.num_rows, "failed": int(pc.sum(table["failed"]).as_py() or 0),
                 "triples": int(pc.sum(table["n_triples"]).as_py() or 0),
                 "first": seqs[0] if has_seq else None, "last": seqs[-1] if has_seq else None,
                 "duplicates": len(seqs) - len(set(seqs)) if has_seq else 0, "lines": {}}
        if has_seq:
            for seq in seqs:
                index, n = split_seq(seq)
                got = stats["lines"].setdefault(index, [0, n, n])
                got[0] += 1
                got[1], got[2] = min(got[1], n), max(got[2], n)
        if not table.num_rows:
            return stats
        tmp = posixpath.join(self.root, f".{name}.tmp")
        with self.filesystem.open_output_stream(tmp) as out:
            if self.output_format == "jsonl":
                out.write("".join(line + "\n" for line in table["record"].to_pylist()).encode("utf8"))
            else:
                rows = [parquet_row(json.loads(line), seq) for line, seq in zip(table["record"].to_pylist(), seqs)]
                pq.write_table(pa.Table.from_pylist(rows, schema=PARQUET_SCHEMA), out)
        self.filesystem.move(tmp, posixpath.join(self.root, name))
        return stats

    def on_write_complete(self, write_result) -> None:
        self.shards = [s for s in write_result.write_returns if s and s["rows"]]

    @property
    def min_rows_per_write(self) -> int:
        return self.rows_per_shard  # Ray gathers whole blocks up to at least this many rows (the last shard fewer)


def read_output(folder: str) -> Iterator[Dict[str, Any]]:
    """The records of an output folder (JSONL or Parquet shards), in input order."""
    fs, root = _filesystem(folder)
    infos = fs.get_file_info(pafs.FileSelector(root))
    names = sorted(i.path for i in infos if posixpath.basename(i.path).startswith("part-"))
    for name in names:
        if name.endswith(".parquet"):
            with fs.open_input_file(name) as f:
                for row in pq.read_table(f, schema=PARQUET_SCHEMA).to_pylist():
                    yield record_of_parquet_row(row)
        else:
            with fs.open_input_stream(name) as f:
                for line in strip_bom(f.read()).decode("utf8").split("\n"):
                    if line:
                        yield json.loads(line)


# ---------------------------------------------------------------------------------- the command
def check_output_folder(output: str, input_path: str) -> None:
    """Refuse an output that is a file, the input, inside the input folder, or a folder that
    already holds files (shards of another run would mix with these)."""
    if "://" not in output:
        from ..safe_io import check_output_folder as check_local

        check_local(output, input_path)
        return
    fs, root = _filesystem(output)
    info = fs.get_file_info(root)
    if info.type == pafs.FileType.File:
        raise ValueError(f"The output {output} is a file: --engine ray writes a folder of shards.")
    if info.type == pafs.FileType.Directory and fs.get_file_info(pafs.FileSelector(root)):
        raise ValueError(f"The output folder {output} is not empty: give a new or empty folder, so that "
                         "shards of another run do not mix with this one.")


def init_ray(num_cpus: Optional[int] = None, quiet: bool = True) -> bool:
    """Join the cluster of ``RAY_ADDRESS`` (or a ``ray job``), or start a local Ray; nothing when
    Ray is already initialized. Returns whether this call started (and so should stop) Ray."""
    if quiet:  # Ray Data's INFO lines (execution plan, "finished in") and progress bars
        import logging

        logging.getLogger("ray.data").setLevel(logging.WARNING)
    if ray.is_initialized():
        return False
    kwargs = {"log_to_driver": not quiet, "configure_logging": not quiet}
    if os.environ.get("RAY_ADDRESS"):
        ray.init(**kwargs)
        return True
    ray.init(num_cpus=num_cpus, include_dashboard=False, **kwargs)
    return True


def _check_resources(num_actors: int, gpus_per_actor: float, joined: bool) -> None:
    resources = ray.cluster_resources()
    cpus, gpus = resources.get("CPU", 0), resources.get("GPU", 0)
    problems = []
    if gpus_per_actor > gpus:
        problems.append(f"--gpus-per-actor {gpus_per_actor} but the Ray cluster has {gpus:g} GPUs")
    if num_actors > cpus:
        problems.append(f"--num-actors {num_actors} but the Ray cluster has {cpus:g} CPUs (one per actor)")
    if problems and not joined:
        raise ValueError("; ".join(problems) + ": lower the number, or join a larger cluster (RAY_ADDRESS).")
    for problem in problems:  # an autoscaling cluster may add nodes: say so, and go on
        print(f"warning: {problem}; the run waits until the cluster has them.", file=sys.stderr)


def extract_to_folder(model: str, input_path: str, output: str, *, input_format: str = "auto",
                      output_format: str = "jsonl", num_actors: int = 1, batch_size: int = 64,
                      gpus_per_actor: float = 0, max_length: int = 1_000_000, rows_per_shard: int = 10_000,
                      progress: bool = False, num_cpus: Optional[int] = None,
                      precision: Optional[str] = None) -> ExtractSummary:
    """``extract`` on Ray: read INPUT, extract with ``num_actors`` actors, write shards to OUTPUT.

    Everything is checked before anything is written (options, the output folder, the input and the
    model, loaded once here). ``precision``: fp32, bf16, int8 or auto, set in every actor
    (``spacy_triples.set_precision``; None keeps the pipeline's own setting). Returns the summary; ValueError when the written records do not account
    for every input record (the shards stay, for inspection)."""
    check_options(num_actors, batch_size, gpus_per_actor, max_length)
    check_positive(rows_per_shard=rows_per_shard)
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(f"Unknown output format '{output_format}': use jsonl or parquet.")
    check_output_folder(output, input_path)
    files = resolve_input(input_path, input_format)[1]  # fails early: missing input, mixed folder
    load_pipeline(model, precision=precision)  # a path that is not a pipeline (or a precision it refuses) fails here, once
    joined = bool(os.environ.get("RAY_ADDRESS"))
    started = init_ray(num_cpus, quiet=not progress)
    try:
        _check_resources(num_actors, gpus_per_actor, joined or not started)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = progress
        start = time.perf_counter()
        ds = read_records(input_path, input_format, max_length, concurrency=max(2, num_actors))
        out = extract_dataset(ds, model, num_actors=num_actors, batch_size=batch_size,
                              gpus_per_actor=gpus_per_actor, max_length=max_length, precision=precision)
        sink = ShardDatasink(output, output_format, rows_per_shard)
        # write tasks ask for no CPU either (see read_records)
        out.write_datasink(sink, ray_remote_args={"num_cpus": 0})
        seconds = time.perf_counter() - start
    finally:
        if started:
            ray.shutdown()
    problems = check_complete(sink.shards, file_names=files)
    rows = sum(s["rows"] for s in sink.shards)
    if problems:
        raise ValueError(f"The output {output} does not account for every input record: "
                         + "; ".join(problems[:5]) + ". Run again into a new folder.")
    return ExtractSummary(read=rows, written=rows, failed=sum(s["failed"] for s in sink.shards),
                          triples=sum(s["triples"] for s in sink.shards), seconds=seconds)
