"""The Ray engine's driver, the process that runs ``extract --engine ray``: it checks everything,
joins or starts Ray, reads, extracts and writes, and checks that the shards account for every
input record."""
import os
import sys
import time
from typing import Optional

import ray
import ray.data

from ...util import load_pipeline
from ..run import ExtractSummary
from .actors import extract_dataset
from .options import check_options
from .reader import read_records, resolve_input
from .writer import ShardDatasink, check_complete, check_output_folder


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
    """ValueError when the cluster has fewer GPUs or CPUs than the actors ask for; a warning instead
    when the cluster was joined (an autoscaling one may add nodes)."""
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
    (``spacy_triples.set_precision``; None keeps the pipeline's own setting). Returns the summary;
    ValueError when the written records do not account for every input record (the shards stay, for
    inspection)."""
    check_options(num_actors, batch_size, gpus_per_actor, max_length, rows_per_shard=rows_per_shard,
                  output_format=output_format)
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
