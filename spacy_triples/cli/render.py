"""``spacy-triples render``: an HTML page showing the triples of a text or of an input file."""
import sys
from typing import Optional

import typer

from ..util import load_pipeline
from ._util import Command, app, positive_int


@app.command("render", cls=Command, help="write an HTML page showing the triples of TEXT or of --input")
def render_cli(
    model: str = typer.Argument(..., show_default=False),
    text: Optional[str] = typer.Argument(None, show_default=False, help="a text to analyse (or use --input)"),
    input: Optional[str] = typer.Option(None, "--input", help="text lines, JSONL with 'text', or a folder of .txt"),
    output: str = typer.Option("triples.html", "--output"),
    limit: int = typer.Option(200, "--limit", parser=positive_int, help="render at most this many documents"),
) -> None:
    n = render_to_file(model, text, input, output, limit)
    print(f"{n} documents rendered to {output}", file=sys.stderr)


def render_to_file(model: str, text: Optional[str] = None, input_path: Optional[str] = None,
                   output_path: str = "triples.html", limit: int = 200) -> int:
    """Write an HTML page (``spacy_triples.render.render``) showing the triples that MODEL finds in
    ``text`` or in the first ``limit`` documents of ``input_path`` (give one of them); returns the
    number of documents rendered. Input records that cannot be read are skipped with a warning."""
    from itertools import islice

    from ..extract.local import read_inputs
    from ..render import render
    from ..safe_io import check_output_path, write_text

    if (text is None) == (input_path is None):
        raise ValueError("Give either a TEXT argument or --input FILE.")
    check_output_path(output_path, input_path)
    records = [] if input_path is None else list(islice(read_inputs(input_path), limit))
    nlp = load_pipeline(model)
    texts = [text] if text is not None else [r.text for r in records if not r.error]
    for r in records:
        if r.error:
            print(f"warning: {input_path}: skipped {r.error}", file=sys.stderr)
    nlp.max_length = max([nlp.max_length] + [len(t) for t in texts])
    write_text(output_path, render(list(nlp.pipe(texts)), jupyter=False))
    return len(texts)
