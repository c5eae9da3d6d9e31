"""Corpus-scale extraction on Ray Data (``spacy-triples extract ... --engine ray``).

Needs ``pip install "spacy-triples[ray]"``. The records are those of the local engine, built by the
same functions (:mod:`spacy_triples.extract.records`), so a Ray run and a local run write the same JSON.

* ``read_records(path)`` (:mod:`.reader`): a Ray Dataset of input records read from text lines,
  JSONL, Parquet or a folder of ``.txt`` files (local or any filesystem Ray reads, such as ``s3://``).
  Every line or row becomes one record, a bad one an error record, as ``extract`` reads them.
* ``extract_dataset(ds, model)`` (:mod:`.actors`): the output records of a Dataset, computed by a pool
  of actors that each load the pipeline once (``map_batches`` with a callable class); a killed actor
  is restarted and its batch run again.
* ``extract_to_folder(model, input, output)`` (:mod:`.driver`): both, written as JSONL or Parquet
  shards (:mod:`.writer`), with the ``read / written / failed`` summary of ``extract``.
* :mod:`.rows`: records as Arrow rows and back; :mod:`.options`: the engine's options, checked once.

Order: every record carries its place in the input, ``seq`` = (number of its file in the sorted list
of input files << 32) + its line (or row) number in that file. Shards are named ``part-<first seq,
20 digits>`` and each holds consecutive records in order, so the shards in name order are the
input order: the JSONL shards concatenated are the file ``extract`` writes (scores may differ in the
last digits, as padding depends on which documents share a batch).

Ids: a record without its own id gets its line (row) number, as in ``extract``; when the input has
several files, ``"<file>:<line>"`` so that ids stay unique. An id crosses the Arrow boundary as JSON,
so ``1`` stays an int and ``"1"`` a string.
"""
from .actors import TripleExtractorActor, extract_dataset
from .driver import extract_to_folder, init_ray
from .options import INPUT_FORMATS, OUTPUT_FORMATS, check_options
from .reader import RecordsDatasource, choose_format, input_kind, read_records, resolve_input
from .reader import _blocks  # noqa: F401  (the blocks a read task yields: tests feed the actor with them)
from .rows import (INPUT, LINE_BITS, OUTPUT_SCHEMA, PARQUET_SCHEMA, SEQ, TRIPLE_TYPE, decode_record, encode_record,
                   json_value, make_seq, parquet_row, record_from_row, record_of_parquet_row, records_of_batch,
                   split_seq)
from .writer import ShardDatasink, check_complete, check_output_folder, read_output, shard_name

__all__ = [
    "INPUT", "INPUT_FORMATS", "LINE_BITS", "OUTPUT_FORMATS", "OUTPUT_SCHEMA", "PARQUET_SCHEMA", "SEQ",
    "TRIPLE_TYPE", "RecordsDatasource", "ShardDatasink", "TripleExtractorActor", "check_complete",
    "check_options", "check_output_folder", "choose_format", "decode_record", "encode_record",
    "extract_dataset", "extract_to_folder", "init_ray", "input_kind", "json_value", "make_seq",
    "parquet_row", "read_output", "read_records", "record_from_row", "record_of_parquet_row",
    "records_of_batch", "resolve_input", "shard_name", "split_seq",
]
