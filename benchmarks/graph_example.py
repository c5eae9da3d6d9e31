"""From text to a knowledge graph, end to end, on a test set (issue 44).

    python benchmarks/graph_example.py --model training/cpu/model-best --data corpus/conll04/test.spacy

Runs the texts of ``--data`` through the pipeline into a fresh Oxigraph store (spacy_triples.graph),
answers three SPARQL questions, draws one entity's neighbourhood (networkx + matplotlib) to a PNG and
writes to ``benchmarks/results/graph_example.json``: documents/s from text to store (pipeline and
store load together), the store's size on disk, and the edge precision / recall / F1 of the built
graph against the gold graph of the same file (its gold ``doc._.triples``, entities merged the same
way on both sides: normalised key + type, or alias-table id), with lscpu's CPU model and the command.
"""
import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from compare_architectures import cpu_name  # noqa: E402  (lscpu's model name, as every benchmark records it)
NS = ["http://example.org/triples/"]  # the store's namespace (prefix t:)

QUESTIONS = {
    "most connected entities": """
        SELECT ?entity ?name (COUNT(DISTINCT ?edge) AS ?edges) WHERE {
          ?edge a rdf:Statement . { ?edge rdf:subject ?entity } UNION { ?edge rdf:object ?entity }
          ?entity rdfs:label ?name
        } GROUP BY ?entity ?name ORDER BY DESC(?edges) ?name LIMIT 10""",
    "relations by edges and evidence": """
        SELECT ?relation (COUNT(?edge) AS ?edges) (SUM(?n) AS ?evidence) (AVG(?best) AS ?mean_best_score) WHERE {
          ?edge rdf:predicate ?p ; t:count ?n ; t:bestScore ?best . ?p rdfs:label ?relation
        } GROUP BY ?relation ORDER BY DESC(?edges)""",
    "what the graph says about ENTITY, with its evidence": """
        SELECT ?subject ?relation ?object ?n ?best (SAMPLE(?sentence) AS ?example) WHERE {
          ?edge rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o ; t:count ?n ; t:bestScore ?best .
          FILTER(?s = <ENTITY> || ?o = <ENTITY>)
          ?s rdfs:label ?subject . ?o rdfs:label ?object . ?p rdfs:label ?relation .
          ?ev t:supports ?edge ; t:sentence ?sentence .
        } GROUP BY ?subject ?relation ?object ?n ?best ORDER BY DESC(?n) DESC(?best)""",
}


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def rows(results) -> list:
    names = [v.value for v in results.variables]
    return [{n: (s[n].value if s[n] is not None else None) for n in names} for s in results]


def run_query(store, sparql):
    from spacy_triples.graph.store import run_query as run

    return run(store, sparql, NS[0])


def edge_set(store) -> set:
    query = "SELECT ?s ?p ?o WHERE { ?e a rdf:Statement ; rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o }"
    return {(r["s"], r["p"], r["o"]) for r in rows(run_query(store, query))}


def draw_neighbourhood(store, entity: str, path: Path) -> int:
    """One entity, its edges and its neighbours (one hop) to a PNG; returns the number of edges drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx

    from spacy_triples.safe_io import atomic_path

    found = rows(run_query(store, f"""
        SELECT ?sl ?rel ?ol ?n WHERE {{ ?e rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o ; t:count ?n .
          FILTER(?s = <{entity}> || ?o = <{entity}>) ?s rdfs:label ?sl . ?o rdfs:label ?ol . ?p rdfs:label ?rel }}"""))
    graph = nx.MultiDiGraph()
    for r in found:
        graph.add_edge(r["sl"], r["ol"], label=f"{r['rel']} ({r['n']})")
    fig, ax = plt.subplots(figsize=(9, 7))
    pos = nx.spring_layout(graph, seed=0)
    nx.draw_networkx(graph, pos, ax=ax, node_color="#cfe3f5", node_size=1400, font_size=8, arrows=True)
    labels = {(u, v): d["label"] for u, v, d in graph.edges(data=True)}
    nx.draw_networkx_edge_labels(graph, pos, edge_labels=labels, font_size=7, ax=ax)
    ax.margins(0.2)
    ax.set_axis_off()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return len(found)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a trained pipeline (folder or package)")
    parser.add_argument("--data", required=True, help="a .spacy test set with gold doc._.triples")
    parser.add_argument("--store", help="the store's folder: new or empty (default: a temporary folder, removed)")
    parser.add_argument("--aliases", help="alias table (CSV/JSONL), used for both the built and the gold graph")
    parser.add_argument("--min-score", type=float, default=0.0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--entity", help="IRI of the entity to draw and ask about (default: the most connected)")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "graph_example.json"))
    parser.add_argument("--png", default=None, help="default: OUTPUT with .png")
    args = parser.parse_args(argv)

    import spacy

    from spacy_triples.graph import AliasTable, EntityResolver, FactBuilder, stamp_pipeline
    from spacy_triples.graph.facts import read_docs
    from spacy_triples.graph.store import GraphStore, GraphSummary
    from spacy_triples.safe_io import atomic_open

    data = Path(args.data)
    gold_docs = read_docs(data)
    if not gold_docs:
        raise SystemExit(f"error: {data} holds no documents.")
    ids = [doc.user_data.get("source", n) for n, doc in enumerate(gold_docs)]
    texts = [doc.text for doc in gold_docs]
    if args.store and Path(args.store).exists() and any(Path(args.store).iterdir()):
        raise SystemExit(f"error: --store {args.store} is not empty: the example builds a fresh store.")
    store_dir = Path(args.store) if args.store else Path(tempfile.mkdtemp(prefix="graph_example_")) / "store"
    aliases = AliasTable.from_file(args.aliases) if args.aliases else None
    resolver = EntityResolver(aliases)
    try:
        nlp = spacy.load(args.model)
        graph = GraphStore(store_dir)
        builder = FactBuilder(resolver, args.min_score)
        summary = GraphSummary()

        def facts():
            for doc_id, doc in zip(ids, nlp.pipe(texts, batch_size=args.batch_size)):
                stamp_pipeline(doc, nlp)
                yield builder.from_doc(doc, doc_id)

        start = time.perf_counter()
        graph.load(facts(), summary)
        seconds = time.perf_counter() - start
        summary.docs, summary.triples = builder.docs, builder.triples
        summary.skipped, summary.skipped_docs = builder.skipped, builder.skipped_docs
        summary.check()
        store_bytes = folder_bytes(store_dir)

        # the gold graph: the same resolver and IRIs, no score filter (gold has score 1)
        gold_builder = FactBuilder(resolver)
        gold = set()
        for doc_id, doc in zip(ids, gold_docs):
            for f in gold_builder.from_doc(doc, doc_id):
                gold.add((graph.vocab.entity(f.subject), graph.vocab.relation(f.relation), graph.vocab.entity(f.object)))
        predicted = edge_set(graph.store)
        hit = len(predicted & gold)
        precision = hit / len(predicted) if predicted else 0.0
        recall = hit / len(gold) if gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0

        answers = []
        top = rows(graph.query(QUESTIONS["most connected entities"]))
        entity = args.entity or (top[0]["entity"] if top else None)
        for question, sparql in QUESTIONS.items():
            if "ENTITY" in question:
                if entity is None:
                    continue
                sparql = sparql.replace("ENTITY", entity)
                question = question.replace("ENTITY", entity)
            answers.append({"question": question, "sparql": " ".join(sparql.split()),
                            "rows": rows(run_query(graph.store, sparql))})
        png = Path(args.png or Path(args.output).with_suffix(".png"))
        drawn = draw_neighbourhood(graph.store, entity, png) if entity else 0
        result = {
            "machine": cpu_name(),
            "command": "python " + " ".join([str(Path(sys.argv[0]))] + sys.argv[1:]) if argv is None else
                       "python benchmarks/graph_example.py " + " ".join(argv),
            "model": args.model, "data": str(data), "docs": len(texts),
            "seconds_text_to_store": round(seconds, 3), "docs_per_s": round(len(texts) / seconds, 2) if seconds else None,
            "store_bytes": store_bytes, "quads": len(graph),
            "load": {k: (dict(v) if hasattr(v, "items") else v) for k, v in vars(summary).items()},
            "edges_predicted": len(predicted), "edges_gold": len(gold), "edges_correct": hit,
            "edge_precision": round(precision, 4), "edge_recall": round(recall, 4), "edge_f1": round(f1, 4),
            "min_score": args.min_score, "entity": entity, "png": str(png), "png_edges": drawn,
            "questions": answers,
        }
        with atomic_open(args.output, "w", encoding="utf8") as out:
            out.write(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        print(f"{len(texts)} docs in {seconds:.1f} s ({result['docs_per_s']} docs/s), store {store_bytes / 1e6:.1f} MB, "
              f"{len(graph)} quads; edges P {precision:.3f} R {recall:.3f} F1 {f1:.3f} "
              f"({hit} of {len(predicted)} predicted, {len(gold)} gold); {args.output}, {png}")
    finally:
        if not args.store:
            shutil.rmtree(store_dir.parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
