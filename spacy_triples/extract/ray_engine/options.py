"""The Ray engine's options, checked in one place: every entry point (``extract_to_folder``,
``read_records``, ``extract_dataset``, ``ShardDatasink``) checks the options it takes here, before
any work, with the messages of the command's own flags."""
from ..run import check_positive

INPUT_FORMATS = ("auto", "text", "jsonl", "parquet")
OUTPUT_FORMATS = ("jsonl", "parquet")


def check_options(num_actors: int = 1, batch_size: int = 1, gpus_per_actor: float = 0, max_length: int = 1, *,
                  concurrency: int = 1, bytes_per_block: int = 1, rows_per_shard: int = 1,
                  output_format: str = "jsonl") -> None:
    """ValueError naming the first option that is out of range: the counts (``--num-actors``,
    ``--batch-size``, ``--max-length``, the reader's ``concurrency`` and ``bytes_per_block``) must be
    positive integers, ``--gpus-per-actor`` 0 or more, ``--rows-per-shard`` positive, and
    ``--output-format`` one of OUTPUT_FORMATS. A caller passes the options it has; the defaults
    are valid values."""
    check_positive(num_actors=num_actors, batch_size=batch_size, max_length=max_length,
                   concurrency=concurrency, bytes_per_block=bytes_per_block)
    if isinstance(gpus_per_actor, bool) or not isinstance(gpus_per_actor, (int, float)) or gpus_per_actor < 0:
        raise ValueError(f"--gpus-per-actor must be 0 (CPU) or more, got {gpus_per_actor!r}.")
    check_positive(rows_per_shard=rows_per_shard)
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(f"Unknown output format '{output_format}': use jsonl or parquet.")
