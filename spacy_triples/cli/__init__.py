"""``spacy-triples`` command line: convert datasets, extract triples with a trained pipeline.

One module per command, as spaCy's ``spacy/cli/``: a thin typer ``@app.command`` wrapper beside a
plain function that Python callers use (``convert``, ``extract``, ``evaluate``, ...). ``_util``
holds the app, the option types the commands share and :func:`~._util.run`."""
from typing import List, Optional

from ._util import app, run

# the command modules register their commands on `app`, in the order `spacy-triples -h` lists them
from .convert import convert, convert_cli, read_dataset  # noqa: F401  (isort: keep this order)
from .stats import stats, stats_cli  # noqa: F401
from .extract import check_engine_options, extract, extract_cli, extract_local, extract_ray  # noqa: F401
from .evaluate import evaluate, evaluate_cli, format_scores  # noqa: F401
from .init_vectors import init_vectors_cli  # noqa: F401
from .export import export_cli  # noqa: F401
from .graph import graph_cli, graph_query_cli  # noqa: F401
from .render import render_cli, render_to_file  # noqa: F401
from .tune_thresholds import tune_and_save, tune_thresholds_cli  # noqa: F401
from .serve import serve_cli  # noqa: F401

__all__ = ["app", "check_engine_options", "convert", "evaluate", "extract", "format_scores", "main",
           "read_dataset", "render_to_file", "stats", "tune_and_save"]


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``spacy-triples ARGV`` (default: sys.argv[1:]) and return its exit status: 0, or 1 with
    ``error: ...`` on stderr. A command line that does not parse raises SystemExit(2), ``-h`` SystemExit(0)."""
    return run(argv)
