"""``spacy-triples graph`` and ``graph-query``: a knowledge graph (an Oxigraph store) from triples, and
SPARQL on it (the work: ``spacy_triples.graph.store.build_graph`` and ``query_graph``)."""
import sys
from typing import Optional

import typer

from ._util import Command, app, as_float, choice, choices_metavar

QUERY_FORMATS = ["table", "json", "csv"]


@app.command("graph", cls=Command, help="build or update a knowledge graph (an Oxigraph store) from a .spacy file "
             "or extract JSONL; needs pip install 'spacy-triples[graph]'")
def graph_cli(
    # fmt: off
    input: str = typer.Argument(..., show_default=False, help=".spacy file (gold or predicted doc._.triples) or the "
                                "JSONL written by 'extract'"),
    store: str = typer.Argument(..., show_default=False, help="the store's folder (created when new; a second input "
                                "adds only what is new)"),
    aliases: Optional[str] = typer.Option(None, "--aliases", help="alias table: CSV (alias,id[,type]) or JSONL "
                                          "({\"alias\", \"id\", \"type\"}); its ids (e.g. Wikidata QIDs) name entities "
                                          "before the normalised text does"),
    min_score: float = typer.Option(0.0, "--min-score", parser=as_float, help="skip (and count) triples scored below "
                                    "this"),
    schema: Optional[str] = typer.Option(None, "--schema", help="relation schema (as in the pipe's schema): skip (and "
                                         "count) other triples"),
    namespace: str = typer.Option("http://example.org/triples/", "--namespace", help="base IRI of the graph's terms"),
    strip_accents: bool = typer.Option(False, "--strip-accents", help="also strip accents from entity keys (Café = "
                                       "Cafe)"),
    pipeline: str = typer.Option("unknown", "--pipeline", help="NAME[@VERSION] of the pipeline for evidence whose "
                                 "input does not say (doc.user_data / record 'pipeline')"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
    # fmt: on
) -> None:
    from ..graph.store import build_graph

    summary = build_graph(input, store, aliases, min_score, schema, namespace, strip_accents, pipeline,
                          progress=not quiet)
    for line in summary.lines():
        print(line, file=sys.stderr)


@app.command("graph-query", cls=Command, help="run a SPARQL 1.1 query on a store built by 'graph'")
def graph_query_cli(
    store: str = typer.Argument(..., show_default=False),
    sparql: str = typer.Argument(..., show_default=False, help="the query; prefixes t:, rel:, ent:, rdf:, rdfs:, xsd: "
                                 "are declared"),
    format: str = typer.Option("table", "--format", parser=choice(QUERY_FORMATS),
                               metavar=choices_metavar(QUERY_FORMATS)),
) -> None:
    from ..graph.store import query_graph

    text = query_graph(store, sparql, format)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
