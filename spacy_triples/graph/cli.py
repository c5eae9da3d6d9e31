"""The ``graph`` and ``graph-query`` subcommands (argparse wiring lives in ``spacy_triples/cli/``)."""
import sys


def run_graph_command(args) -> None:
    from .store import build_graph, query_graph

    if args.command == "graph":
        summary = build_graph(args.input, args.store, args.aliases, args.min_score, args.schema, args.namespace,
                              args.strip_accents, args.pipeline, progress=not args.quiet)
        for line in summary.lines():
            print(line, file=sys.stderr)
    else:
        text = query_graph(args.store, args.sparql, args.format)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
