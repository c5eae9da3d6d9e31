"""Reading of the Ray engine: a Ray Dataset of input records from text lines, JSONL, Parquet or a
folder of ``.txt`` files (local or any filesystem Ray reads, such as ``s3://``). Every line or row
becomes one record, a bad one an error record, parsed by the readers of ``extract.records`` as the local
engine reads them.

Ids: a record without its own id gets its line (row) number, as in ``extract``; when the input has
several files, ``"<file>:<line>"`` so that ids stay unique.
"""
import io
import os
import posixpath
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import ray
import ray.data
from ray.data.block import Block
from ray.data.datasource import FileBasedDatasource

from ..records import InputRecord, check_record, iter_lines, parse_file, parse_jsonl_line, parse_text_line
from .options import INPUT_FORMATS, check_options
from .rows import INPUT, SEQ, encode_record, make_seq, record_from_row

_SUFFIXES = {".txt": "text", ".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
_COMPRESSION = (".gz", ".bz2", ".zst", ".lz4", ".br", ".snappy")
_PARQUET_BATCH = 1024


def filesystem(path: str) -> Tuple[pafs.FileSystem, str]:
    """(filesystem, path in it) of a local path or a URI (``s3://...``); ValueError when Arrow cannot
    open it. The writer and the driver open their folders here too."""
    if "://" in path:
        try:
            return pafs.FileSystem.from_uri(path)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as err:
            raise ValueError(f"Cannot open {path}: {err}") from err
    return pafs.LocalFileSystem(), os.path.abspath(path)


def is_hidden(relative: str) -> bool:
    """Whether a path inside the input folder is left out, as Ray leaves it out (a part starting with
    '.' or '_')."""
    return any(part.startswith((".", "_")) for part in relative.split("/"))


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


def resolve_input(path: str, input_format: str = "auto") -> Tuple[pafs.FileSystem, List[str], str, str]:
    """(filesystem, sorted files, format, root) of an input path or folder; ValueError when there
    is nothing to read. Files and folders whose names start with '.' or '_' are left out, as Ray does."""
    fs, root = filesystem(path)
    info = fs.get_file_info(root)
    if info.type == pafs.FileType.NotFound:
        raise ValueError(f"Input {path} does not exist: give a file or a folder (text, JSONL or Parquet).")
    if info.type == pafs.FileType.Directory:
        infos = fs.get_file_info(pafs.FileSelector(root, recursive=True))
        names = sorted(i.path for i in infos if i.type == pafs.FileType.File
                       and not is_hidden(posixpath.relpath(i.path, root)))
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
    check_options(max_length=max_length, concurrency=concurrency, bytes_per_block=bytes_per_block)
    fs, files, fmt, root = resolve_input(path, input_format)
    ds = ray.data.read_datasource(RecordsDatasource(files, fs, fmt, root, max_length), num_cpus=0,
                                  concurrency=min(concurrency, len(files)))
    ds.context.target_max_block_size = bytes_per_block
    return ds

