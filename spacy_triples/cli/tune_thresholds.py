"""``spacy-triples tune-thresholds``: per-relation (or one global) thresholds picked on a dev set and
saved in the pipeline."""
from pathlib import Path
from typing import Optional

import typer

from ..util import load_pipeline
from ._util import Command, app


@app.command("tune-thresholds", cls=Command, help="pick per-relation thresholds (or, with --global, one threshold) "
             "on a dev set and save them in the pipeline")
def tune_thresholds_cli(
    model: str = typer.Argument(..., show_default=False),
    dev: str = typer.Argument(..., show_default=False, help=".spacy file with gold triples"),
    global_threshold: bool = typer.Option(False, "--global", help="one threshold for every relation (less fitted to a "
                                          "small dev set than one per relation)"),
    output: Optional[str] = typer.Option(None, "--output", help="where to save the tuned pipeline (default: overwrite "
                                         "MODEL)"),
    component: str = typer.Option("triple_extractor", "--component"),
) -> None:
    result = tune_and_save(model, dev, output, component, per_relation=not global_threshold)
    for rel, t in sorted(result["thresholds"].items()):
        print(f"{rel:30} {t:.2f}")
    if global_threshold:
        print(f"threshold {result['threshold']:.2f} for every relation")
    print(f"dev triples_f {100 * result['f1_before']:.2f} -> {100 * result['f1_after']:.2f}; "
          f"saved to {output or model}")


def tune_and_save(model: str, dev_path: str, output_path: Optional[str] = None,
                  component: str = "triple_extractor", per_relation: bool = True) -> dict:
    """Tune the thresholds of MODEL's ``component`` on the gold triples of ``dev_path``
    (``spacy_triples.training.thresholds.tune_thresholds``) and save the pipeline to ``output_path``
    (default: over MODEL, whole or not at all); returns the tuning's result."""
    from spacy.training import Corpus

    from ..safe_io import write_pipeline
    from ..training.thresholds import tune_thresholds

    if not Path(dev_path).is_file():
        raise ValueError(f"Dev data {dev_path} does not exist.")
    nlp = load_pipeline(model)
    result = tune_thresholds(nlp, Corpus(dev_path)(nlp), component, per_relation=per_relation)
    write_pipeline(nlp, output_path or model)  # whole, or the earlier folder left as it was
    return result
