"""``spacy-triples convert``: a dataset file in any supported format -> a .spacy DocBin with gold triples."""
import sys
from pathlib import Path
from typing import Iterable, Iterator, Optional

import spacy
import typer
from spacy.tokens import Doc

from ..convert import READERS, ConversionReport, detect_format, load_schema, write_docbin
from ._util import Command, app, choice, choices_metavar

FORMATS = ["auto"] + sorted(READERS)
STRING_FORMATS = ("casrel", "duie")  # entities given as strings, placed by the converter


@app.command("convert", cls=Command, help="convert a dataset file to a .spacy DocBin with gold doc._.triples")
def convert_cli(
    input: str = typer.Argument(..., show_default=False),
    output: str = typer.Argument(..., show_default=False),
    format: str = typer.Option("auto", "--format", parser=choice(FORMATS), metavar=choices_metavar(FORMATS),
                               help="input format (default: detected from the first record)"),
    lang: Optional[str] = typer.Option(None, "--lang", help="language of the tokenizer (default: zh for DuIE, else "
                                       "en)"),
    schema: Optional[str] = typer.Option(None, "--schema", help="relation schema (DuIE schema, CasRel rel2id.json, or "
                                         "one name per line): triples with other relations are skipped and counted"),
    strict: bool = typer.Option(False, "--strict", help="make any skipped record or triple an error"),
    entities_from_triples: bool = typer.Option(
        False, "--entities-from-triples", help="list the subjects and objects of each doc's triples as its entities "
        "(doc.spans[\"entities\"], what a GlobalPointer's mention maps learn) where the format lists none (CasRel, "
        "DuIE, JSONL); docs whose format lists entities keep their own list"),
    every_occurrence: bool = typer.Option(
        False, "--every-occurrence", help="formats that give entities as strings (casrel, duie): write a triple at "
        "every pair of its strings' occurrences (as TPLinker trains), not only the nearest pair; the added rows are "
        "counted"),
) -> None:
    report = convert(input, output, format, lang, schema, strict, progress=sys.stderr.isatty(),
                     entities_from_triples=entities_from_triples, every_occurrence=every_occurrence)
    print(report.table())


def convert(
    input_path: str,
    output_path: str,
    fmt: str = "auto",
    lang: Optional[str] = None,
    schema: Optional[str] = None,
    strict: bool = False,
    progress: bool = False,
    entities_from_triples: bool = False,
    every_occurrence: bool = False,
) -> ConversionReport:
    """Convert a dataset file to a .spacy DocBin; returns the accounting of every record.

    ``entities_from_triples``: a doc whose format lists no entities gets its triples' subject and
    object spans as its entity list (``doc.spans["entities"]``, with their types), counted in the
    report's "entities listed from the triples"; a doc that lists its own keeps them.
    ``every_occurrence`` (formats with string entities: casrel, duie): a string triple is written at
    every pair of its subject's and object's occurrences instead of the nearest pair.
    """
    from ..safe_io import check_output_path

    check_output_path(output_path, input_path)
    docs, report = read_dataset(input_path, fmt, lang, schema, strict, progress, every_occurrence)
    if entities_from_triples:
        docs = list_triple_entities(docs, report)
    write_docbin(docs, Path(output_path))
    report.check()
    return report


def list_triple_entities(docs: Iterable[Doc], report: ConversionReport) -> Iterator[Doc]:
    """Yield ``docs``, each without an entity list given the spans of its triples as one."""
    from spacy.tokens import Span, SpanGroup

    from ..convert.base import GOLD_ENTITIES_KEY

    for doc in docs:
        if GOLD_ENTITIES_KEY not in doc.spans:
            spans = sorted({(span.start, span.end, span.label_) for t in doc._.triples for span in (t.subject, t.object)})
            doc.spans[GOLD_ENTITIES_KEY] = SpanGroup(doc, name=GOLD_ENTITIES_KEY,
                                                     spans=[Span(doc, start, end, label=label) for start, end, label in spans])
            report.notes["entities listed from the triples"] += len(spans)
        yield doc


def read_dataset(input_path, fmt="auto", lang=None, schema=None, strict=False, progress=False, every_occurrence=False):
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
    options = {}
    if every_occurrence:
        if fmt not in STRING_FORMATS:
            raise ValueError(f"--every-occurrence places entities given as strings; format '{fmt}' gives their "
                             f"positions. Use it with {' or '.join(STRING_FORMATS)}, or leave it out.")
        options["every_occurrence"] = True
    docs = READERS[fmt](path, nlp, report, schema=load_schema(Path(schema)) if schema else None, **options)
    if progress:
        from tqdm import tqdm

        docs = tqdm(docs, desc=f"converting {path.name} ({fmt})", unit=" docs", file=sys.stderr, leave=False)
    return docs, report
