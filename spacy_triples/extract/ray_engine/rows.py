"""Row encoding of the Ray engine: records as Arrow rows and back, with no Ray in sight.

* Order keys: every record carries its place in the input, ``seq`` = (number of its file in the
  sorted list of input files << 32) + its line (or row) number in that file.
* Input rows: the records that ``read_records`` gives cross the Arrow boundary as ``_seq`` and
  ``_input`` (the record as ASCII JSON); a Dataset of your own has ``text`` (+ ``id``, + meta) columns.
* Output rows: the actors' rows (OUTPUT_SCHEMA: the JSON line ``extract`` writes, with its counts),
  and the rows of a Parquet shard (PARQUET_SCHEMA: the record's fields as columns).
"""
import dataclasses
import datetime
import decimal
import json
from typing import Any, Dict, List, Optional, Tuple

import pyarrow as pa

from ..records import InputRecord, build_record, check_record, record_from_object

# columns of the records read by read_records (reserved names: a Dataset of your own has `text`, ...)
SEQ, INPUT = "_seq", "_input"
LINE_BITS = 32
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


# ---------------------------------------------------------------------------------- order keys
def make_seq(file_index: int, n: int) -> int:
    """The order key of record ``n`` (1-based) of input file ``file_index`` (0-based)."""
    if not 0 <= n < 1 << LINE_BITS:
        raise ValueError(f"A single input file holds more than {(1 << LINE_BITS) - 1} records: split it.")
    return (file_index << LINE_BITS) | n


def split_seq(seq: int) -> Tuple[int, int]:
    """(file number, line or row number) of an order key."""
    return seq >> LINE_BITS, seq & ((1 << LINE_BITS) - 1)


# ---------------------------------------------------------------------------------- input rows
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


# ---------------------------------------------------------------------------------- output rows
def parquet_row(record: Dict[str, Any], seq: Optional[int]) -> Dict[str, Any]:
    """An output record as a row of PARQUET_SCHEMA."""
    meta = record.get("meta")
    return {"seq": seq, "id": json.dumps(record["id"], ensure_ascii=False), "text": record["text"],
            "triples": record.get("triples"), "error": record.get("error"), "line": record.get("line"),
            "warning": record.get("warning"),
            "meta": None if meta is None else json.dumps(meta, ensure_ascii=False)}


def record_of_parquet_row(row: Dict[str, Any]) -> Dict[str, Any]:
    """The output record of a Parquet shard row (the inverse of ``parquet_row``), keys in ``extract``'s order."""
    return build_record(json.loads(row["id"]), row["text"], triples=row["triples"], error=row["error"],
                        line=row["line"], warning=row["warning"],
                        meta=None if row["meta"] is None else json.loads(row["meta"]))
