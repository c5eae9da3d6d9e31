"""``spacy-triples stats``: describe a dataset (.spacy or any convert format)."""
import json
from pathlib import Path
from typing import Optional

import typer

from ._util import Command, app, choice, choices_metavar, positive_int
from .convert import FORMATS, read_dataset


@app.command("stats", cls=Command, help="describe a dataset (.spacy or any convert format)")
def stats_cli(
    input: str = typer.Argument(..., show_default=False),
    format: str = typer.Option("auto", "--format", parser=choice(FORMATS), metavar=choices_metavar(FORMATS)),
    lang: Optional[str] = typer.Option(None, "--lang"),
    max_wordpieces: int = typer.Option(512, "--max-wordpieces", parser=positive_int),
    wordpiece_model: Optional[str] = typer.Option(None, "--wordpiece-model", help="tokenizer folder for the wordpiece "
                                                  "count (default: MiniLM package)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    from ..stats import format_stats

    result = stats(input, format, lang, max_wordpieces, wordpiece_model)
    print(json.dumps(result, indent=2, ensure_ascii=False) if as_json else format_stats(result))


def stats(input_path: str, fmt: str = "auto", lang: Optional[str] = None, max_wordpieces: int = 512,
          wordpiece_model: Optional[str] = None) -> dict:
    """The statistics of a dataset: a .spacy DocBin, or a file in any format ``convert`` reads
    (``spacy_triples.stats.dataset_stats``; ``wordpiece_model``: default the MiniLM package)."""
    from ..stats import dataset_stats, load_wordpiece_tokenizer

    if input_path.endswith(".spacy"):
        from ..export.readers import read_docbin

        if not Path(input_path).is_file():
            raise ValueError(f"Input file {input_path} does not exist.")
        docs = read_docbin(input_path, lang or "en")
    else:
        docs, _ = read_dataset(input_path, fmt, lang)
    return dataset_stats(docs, max_wordpieces, load_wordpiece_tokenizer(wordpiece_model))
