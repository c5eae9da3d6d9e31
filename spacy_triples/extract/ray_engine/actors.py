"""The Ray engine's actors: a pool of ``TripleExtractorActor`` that each load the pipeline once and
turn batches of input rows into output rows (``map_batches`` with a callable class); a killed actor
is restarted and its batch run again."""
from typing import Optional

import pyarrow as pa
import ray
import ray.data

from ...util import load_pipeline
from ..records import dump_record, output_record
from ..run import pipe_records
from .options import check_options
from .rows import INPUT, OUTPUT_SCHEMA, records_of_batch


class TripleExtractorActor:
    """The callable class of ``map_batches``: each actor loads the pipeline once, then turns batches
    of input records into output records (columns of OUTPUT_SCHEMA)."""

    def __init__(self, model: str, batch_size: int, max_length: int, use_gpu: bool,
                 order_column: Optional[str] = None, precision: Optional[str] = None):
        import spacy

        if use_gpu:
            spacy.require_gpu()
        # precision: fp32, bf16, int8 or auto, decided on the actor's own CPU (None: the pipeline's own)
        self.nlp = load_pipeline(model, precision=precision)
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
