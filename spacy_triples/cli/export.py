"""``spacy-triples export``: triples (.spacy or extract JSONL) to JSONL, CSV, RDF, GraphML or tasks for
annotation tools (the work: ``spacy_triples.export.export``)."""
import sys

import typer

from ._util import Command, app, choice, choices_metavar

AS_CHOICES = ["auto", "predictions", "annotations"]


@app.command("export", cls=Command, help="export triples (.spacy or extract JSONL) to JSONL, CSV, RDF or GraphML")
def export_cli(
    input: str = typer.Argument(..., show_default=False),
    output: str = typer.Argument(..., show_default=False),
    format: str = typer.Option("auto", "--format", help="jsonl, csv, graphml, nt, ttl, nq, trig (default: output "
                               "suffix), or labelstudio, doccano, prodigy (tasks for annotation tools; convert reads "
                               "them back)"),
    namespace: str = typer.Option("http://example.org/triples/", "--namespace", help="base IRI for RDF entities and "
                                  "relations"),
    no_provenance: bool = typer.Option(False, "--no-provenance", help="RDF: facts only, no reified statements"),
    lang: str = typer.Option("en", "--lang", help="prodigy: tokenizer for extract JSONL input (default: en)"),
    as_: str = typer.Option("auto", "--as", parser=choice(AS_CHOICES), metavar=choices_metavar(AS_CHOICES),
                            help="labelstudio: put the triples under 'predictions' (pre-annotation, with scores) or "
                            "'annotations' (default: predictions for extract JSONL, annotations for .spacy)"),
) -> None:
    from ..export import export

    predictions = None if as_ == "auto" else as_ == "predictions"
    n = export(input, output, format, namespace, not no_provenance, lang, predictions)
    print(f"{n} triples exported to {output}", file=sys.stderr)
