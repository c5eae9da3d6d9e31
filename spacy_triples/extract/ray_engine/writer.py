"""Writing of the Ray engine: output records as JSONL or Parquet shards in a folder, the check that
the shards account for every input record, and the reader of such a folder.

Shards are named ``part-<first seq, 20 digits>`` and each holds consecutive records in order, so the
shards in name order are the input order: the JSONL shards concatenated are the file ``extract``
writes (scores may differ in the last digits, as padding depends on which documents share a batch).
"""
import json
import posixpath
from typing import Any, Dict, Iterable, Iterator, List, Optional

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from ray.data.block import Block
from ray.data.datasource import Datasink

from ..records import jsonl_bytes, read_output_jsonl
from .options import check_options
from .reader import filesystem
from .rows import OUTPUT_SCHEMA, PARQUET_SCHEMA, parquet_row, record_of_parquet_row, split_seq


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


class ShardDatasink(Datasink):
    """Writes output records as JSONL or Parquet shards (``part-<first seq>``) in a folder. Each
    write task sorts its rows by ``seq`` and writes through a hidden temporary name renamed when
    complete, so a retried task rewrites its own shard and no half-written shard is ever visible.
    ``write`` returns the shard's accounting; ``result`` gathers them on the driver."""

    def __init__(self, folder: str, output_format: str = "jsonl", rows_per_shard: int = 10_000):
        check_options(rows_per_shard=rows_per_shard, output_format=output_format)
        self.folder, self.output_format, self.rows_per_shard = folder, output_format, rows_per_shard
        self.filesystem, self.root = filesystem(folder)
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
                out.write(jsonl_bytes(table["record"].to_pylist()))
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
    fs, root = filesystem(folder)
    infos = fs.get_file_info(pafs.FileSelector(root))
    names = sorted(i.path for i in infos if posixpath.basename(i.path).startswith("part-"))
    for name in names:
        if name.endswith(".parquet"):
            with fs.open_input_file(name) as f:
                for row in pq.read_table(f, schema=PARQUET_SCHEMA).to_pylist():
                    yield record_of_parquet_row(row)
        else:
            with fs.open_input_stream(name) as f:
                yield from read_output_jsonl(f.read())


def check_output_folder(output: str, input_path: str) -> None:
    """Refuse an output that is a file, the input, inside the input folder, or a folder that
    already holds files (shards of another run would mix with these)."""
    if "://" not in output:
        from ...safe_io import check_output_folder as check_local

        check_local(output, input_path)
        return
    fs, root = filesystem(output)
    info = fs.get_file_info(root)
    if info.type == pafs.FileType.File:
        raise ValueError(f"The output {output} is a file: --engine ray writes a folder of shards.")
    if info.type == pafs.FileType.Directory and fs.get_file_info(pafs.FileSelector(root)):
        raise ValueError(f"The output folder {output} is not empty: give a new or empty folder, so that "
                         "shards of another run do not mix with this one.")
