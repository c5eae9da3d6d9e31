"""``spacy-triples extract``: run a pipeline over text lines, JSONL, a folder of .txt files or stdin
into JSONL. ``--engine ray`` is a thin alias: its options go to the Ray engine
(``spacy_triples.extract.ray_engine.extract_to_folder``), which checks them itself; this module only
refuses an option given to the engine it is not for."""
import json
import sys
from pathlib import Path
from typing import Optional

import typer

from ..util import check_precision_options, load_pipeline
from ._util import (Command, app, choice, choices_metavar, gpu_fraction, gpu_number, positive_int, precision_option,
                    process_count)

ENGINES = ["spacy", "ray"]
INPUT_FORMATS = ["auto", "text", "jsonl", "parquet"]
OUTPUT_FORMATS = ["jsonl", "parquet"]
RAY_OPTIONS = ("--num-actors", "--gpus-per-actor", "--output-format", "--rows-per-shard")


@app.command("extract", cls=Command,
             help="extract triples from text lines, JSONL, a folder of .txt files or stdin")
def extract_cli(
    # fmt: off
    model: str = typer.Argument(..., show_default=False),
    input: str = typer.Argument(..., show_default=False, help="text file (one document per line), .jsonl with a "
                                "'text' field, a folder of .txt, or -"),
    output: str = typer.Argument(..., show_default=False, help="JSONL file, or - for stdout (--engine ray: a folder "
                                 "of shards)"),
    input_format: str = typer.Option("auto", "--input-format", parser=choice(INPUT_FORMATS),
                                     metavar=choices_metavar(INPUT_FORMATS), help="auto: .jsonl/.json files are JSONL, "
                                     ".parquet Parquet (--engine ray), anything else text lines. --engine ray with a "
                                     "folder: auto reads the one kind of file it holds (.txt: one document per "
                                     "file), a given format reads every file in it (text: one document per line)"),
    batch_size: int = typer.Option(64, "--batch-size", parser=positive_int),
    n_process: int = typer.Option(1, "--n-process", parser=process_count, help="worker processes (-1: one per CPU)"),
    gpu_id: int = typer.Option(-1, "--gpu-id", parser=gpu_number),
    max_length: int = typer.Option(1_000_000, "--max-length", parser=positive_int, help="longer documents get an "
                                   "error entry (also raises the pipeline's own nlp.max_length)"),
    show: bool = typer.Option(False, "--show", help="also print the triples readably on stderr"),
    bf16: bool = typer.Option(False, "--bf16", help="run the transformer in bfloat16 on the CPU: faster on a CPU with "
                              "AVX512-BF16 or AMX (about 1.5x for MiniLM here), slower on others (= --precision bf16)"),
    precision: Optional[str] = precision_option(),
    resume: bool = typer.Option(False, "--resume", help="keep the documents an earlier run already wrote to OUTPUT "
                                "and do the rest"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
    engine: str = typer.Option("spacy", "--engine", parser=choice(ENGINES), metavar=choices_metavar(ENGINES),
                               help="spacy: nlp.pipe on this machine; ray: a pool of actors on Ray Data (joins the "
                               "cluster of RAY_ADDRESS, else starts a local one; pip install 'spacy-triples[ray]')"),
    num_actors: Optional[int] = typer.Option(None, "--num-actors", parser=positive_int, help="--engine ray: actors, "
                                             "each loads the pipeline once and takes one CPU (default 1)"),
    gpus_per_actor: Optional[float] = typer.Option(None, "--gpus-per-actor", parser=gpu_fraction, help="--engine "
                                                   "ray: GPUs per actor (e.g. 1 or 0.5; spacy.require_gpu in each "
                                                   "actor; default 0)"),
    output_format: Optional[str] = typer.Option(None, "--output-format", parser=choice(OUTPUT_FORMATS),
                                                metavar=choices_metavar(OUTPUT_FORMATS),
                                                help="--engine ray: the shards' format (default jsonl)"),
    rows_per_shard: Optional[int] = typer.Option(None, "--rows-per-shard", parser=positive_int, help="--engine ray: "
                                                 "records per output shard, at least (whole blocks of about 1 MiB; "
                                                 "the last shard fewer; default 10000)"),
    # fmt: on
) -> None:
    summary = extract(model, input, output, batch_size, n_process, gpu_id, input_format, max_length, show,
                      progress=not quiet, resume=resume, engine=engine, num_actors=num_actors,
                      gpus_per_actor=gpus_per_actor, output_format=output_format, rows_per_shard=rows_per_shard,
                      bf16=bf16, precision=precision)
    print(summary.line(), file=sys.stderr)


def extract(
    model: str,
    input_path: str,
    output_path: str,
    batch_size: int = 64,
    n_process: int = 1,
    gpu_id: int = -1,
    input_format: str = "auto",
    max_length: int = 1_000_000,
    show: bool = False,
    progress: bool = False,
    resume: bool = False,
    engine: str = "spacy",
    num_actors: Optional[int] = None,
    gpus_per_actor: Optional[float] = None,
    output_format: Optional[str] = None,
    rows_per_shard: Optional[int] = None,
    bf16: bool = False,
    precision: Optional[str] = None,
):
    """Run a pipeline over INPUT (text lines, JSONL, a folder of .txt or -) into JSONL; see
    ``spacy_triples.extract.local``.

    Everything is checked before OUTPUT is opened (options, the input, the model, the --resume
    prefix), so a refused run leaves OUTPUT as it was. OUTPUT is written line by line (not through a
    temporary file) so that an interrupted run can be continued with --resume.

    ``engine="ray"``: the same records computed on Ray Data by ``num_actors`` actors (see
    :func:`extract_ray`); INPUT may also be Parquet or a folder of shards, OUTPUT is a folder of JSONL
    or Parquet shards. ``num_actors``, ``gpus_per_actor``, ``output_format`` and ``rows_per_shard``
    are the Ray engine's; ``n_process``, ``gpu_id`` and ``resume`` the spaCy engine's.

    ``precision``: fp32, bf16, int8 or auto on the CPU (``spacy_triples.set_precision``; None keeps
    the pipeline's own setting); ``bf16=True`` is an alias of ``precision="bf16"``."""
    check_engine_options(engine, input_path, output_path, n_process, gpu_id, input_format, resume,
                         num_actors, gpus_per_actor, output_format, rows_per_shard)
    if engine == "ray":
        precision = check_precision_options(bf16, precision, gpu_id, engine)
        return extract_ray(model, input_path, output_path, input_format=input_format, batch_size=batch_size,
                           max_length=max_length, show=show, progress=progress, precision=precision,
                           num_actors=num_actors, gpus_per_actor=gpus_per_actor, output_format=output_format,
                           rows_per_shard=rows_per_shard)
    return extract_local(model, input_path, output_path, batch_size=batch_size, n_process=n_process, gpu_id=gpu_id,
                         input_format=input_format, max_length=max_length, show=show, progress=progress,
                         resume=resume, bf16=bf16, precision=precision)


def extract_local(model: str, input_path: str, output_path: str, *, batch_size: int = 64, n_process: int = 1,
                  gpu_id: int = -1, input_format: str = "auto", max_length: int = 1_000_000, show: bool = False,
                  progress: bool = False, resume: bool = False, bf16: bool = False, precision: Optional[str] = None):
    """``extract`` with the spaCy engine: ``nlp.pipe`` on this machine, into one JSONL file or stdout."""
    from ..extract.local import check_positive, extract_to_jsonl, read_inputs, resume_prefix, skip_done
    from ..safe_io import check_output_path

    check_positive(batch_size=batch_size, max_length=max_length)
    precision = check_precision_options(bf16, precision, gpu_id)
    if n_process != -1:
        check_positive(n_process=n_process)
    if resume and output_path == "-":
        raise ValueError("--resume needs an output file, not stdout.")
    if output_path != "-":
        check_output_path(output_path, input_path)
    records = read_inputs(input_path, input_format, max_length)
    nlp = load_pipeline(model, gpu_id, precision=precision)
    # spaCy refuses texts over nlp.max_length (E088) and would stop the run: --max-length decides
    nlp.max_length = max_length
    done, keep = [], 0
    append = resume and Path(output_path).exists()
    if append:
        done, keep = resume_prefix(output_path)
        records = skip_done(records, done, output_path)  # checked now, before the output is touched
    out = _open_output(output_path, append, keep)
    try:
        summary = extract_to_jsonl(nlp, records, out, batch_size, n_process, progress)
        summary.resumed = len(done)
    except OSError as err:
        raise ValueError(
            f"Writing {output_path} failed ({err.strerror or err}). The complete lines written so far are kept: "
            "free space (or fix the cause) and run again with --resume to continue."
        ) from err
    finally:
        if out is not sys.stdout:
            try:
                out.close()
            except OSError:
                pass
    if show and output_path != "-":
        # JSON lines end at "\n" only (splitlines would also cut at U+0085 / U+2028 inside a text)
        lines = Path(output_path).read_text(encoding="utf8").split("\n")
        _show(json.loads(line) for line in lines if line)
    return summary


def _open_output(output_path: str, append: bool, keep: int):
    """stdout for "-", else OUTPUT opened to write (``append``: cut after the ``keep`` bytes to keep)."""
    from ..extract.local import truncate_output

    if output_path == "-":
        return sys.stdout
    try:
        Path(output_path).parent.mkdir(parents=True, exist_ok=True)
        if append:
            truncate_output(output_path, keep)
        return open(output_path, "a" if append else "w", encoding="utf8")
    except OSError as err:
        raise ValueError(f"Cannot write the output {output_path}: {err.strerror or err}.") from err


def extract_ray(model: str, input_path: str, output_path: str, *, input_format: str = "auto", batch_size: int = 64,
                max_length: int = 1_000_000, show: bool = False, progress: bool = False,
                precision: Optional[str] = None, **ray_options):
    """``extract`` with the Ray engine: ``ray_options`` (``num_actors``, ``gpus_per_actor``,
    ``output_format``, ``rows_per_shard``; None for the engine's default) go to
    ``spacy_triples.extract.ray_engine.extract_to_folder``, which checks them with the rest."""
    from ..extract.ray_engine import extract_to_folder, read_output

    given = {name: value for name, value in ray_options.items() if value is not None}
    summary = extract_to_folder(model, input_path, output_path, input_format=input_format, batch_size=batch_size,
                                max_length=max_length, progress=progress, precision=precision, **given)
    if show:
        _show(read_output(output_path))
    return summary


def _show(records) -> None:
    """Print extract records readably on stderr (--show)."""
    for record in records:
        print(f"\n{record['text']}", file=sys.stderr)
        for t in record.get("triples", []):
            subj = t["subject"] + (f" [{t['subject_label']}]" if t.get("subject_label") not in ("", "ENTITY") else "")
            obj = t["object"] + (f" [{t['object_label']}]" if t.get("object_label") not in ("", "ENTITY") else "")
            print(f"  ({subj} | {t['relation']} | {obj})  {t['score']:.2f}", file=sys.stderr)
        if record.get("error"):
            print(f"  error: {record['error']}", file=sys.stderr)
        elif not record.get("triples"):
            print("  (no triples)", file=sys.stderr)


def check_engine_options(engine, input_path, output_path, n_process=1, gpu_id=-1, input_format="auto",
                         resume=False, num_actors=None, gpus_per_actor=None, output_format=None,
                         rows_per_shard=None) -> None:
    """ValueError naming the option when an option is given to the engine it is not for, or the Ray
    engine is not installed (before any work). The values of each engine's own options are checked
    by that engine."""
    if engine not in ENGINES:
        raise ValueError(f"Unknown --engine '{engine}': use spacy (one machine) or ray (Ray Data).")
    if engine == "spacy":
        given = [name for name, value in zip(RAY_OPTIONS, (num_actors, gpus_per_actor, output_format, rows_per_shard))
                 if value is not None]
        if given:
            raise ValueError(f"{', '.join(given)} only work with --engine ray (the spaCy engine writes one "
                             "JSONL file; it has --n-process and --gpu-id).")
        if input_format == "parquet":
            raise ValueError("Parquet input needs --engine ray (pip install \"spacy-triples[ray]\").")
        return
    import importlib.util

    if importlib.util.find_spec("ray") is None or importlib.util.find_spec("pyarrow") is None:
        raise ValueError('--engine ray needs Ray Data: pip install "spacy-triples[ray]".')
    problems = []
    if "-" in (input_path, output_path):
        problems.append("--engine ray reads a file or folder and writes a folder of shards, not stdin/stdout (-)")
    if resume:
        problems.append("--resume is not supported with --engine ray (Ray already retries a failed batch); "
                        "run again into a new or empty folder")
    if n_process != 1:
        problems.append("--n-process is for the spaCy engine: give --num-actors")
    if gpu_id != -1:
        problems.append("--gpu-id is for the spaCy engine: give --gpus-per-actor 1")
    if problems:
        raise ValueError("; ".join(problems) + ".")
