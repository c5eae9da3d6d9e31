"""``spacy-triples evaluate``: score a pipeline on a .spacy file (overall, per relation, per overlap)."""
import json
from pathlib import Path
from typing import Optional

import typer

from ..util import load_pipeline
from ._util import Command, app, gpu_number, precision_option

SCORE_KEYS = ("triples_p", "triples_r", "triples_f", "triples_strict_p", "triples_strict_r", "triples_strict_f",
              "triples_text_p", "triples_text_r", "triples_text_f",
              "triples_last_word_p", "triples_last_word_r", "triples_last_word_f",
              "triple_ents_p", "triple_ents_r", "triple_ents_f")


@app.command("evaluate", cls=Command, help="score a pipeline on a .spacy file (overall, per relation, per overlap)")
def evaluate_cli(
    model: str = typer.Argument(..., show_default=False),
    data: str = typer.Argument(..., show_default=False),
    output: Optional[str] = typer.Option(None, "--output", help="also write the scores to this JSON file"),
    gpu_id: int = typer.Option(-1, "--gpu-id", parser=gpu_number),
    bf16: bool = typer.Option(False, "--bf16", help="run the transformer in bfloat16 on the CPU (= --precision bf16)"),
    precision: Optional[str] = precision_option(),
) -> None:
    print(format_scores(evaluate(model, data, output, gpu_id, bf16, precision)))


def evaluate(model: str, data_path: str, output_path: Optional[str] = None, gpu_id: int = -1,
             bf16: bool = False, precision: Optional[str] = None) -> dict:
    """Score a pipeline on a .spacy file: overall, per relation and per overlap class (``precision``:
    fp32, bf16, int8 or auto on the CPU, None for the pipeline's own setting; ``bf16``: an alias of
    ``precision="bf16"``)."""
    from spacy.training import Corpus

    if output_path:
        from ..safe_io import check_output_path

        check_output_path(output_path, data_path)
    if not Path(data_path).is_file():
        raise ValueError(f"Evaluation data {data_path} does not exist (make it with 'spacy-triples convert').")
    nlp = load_pipeline(model, gpu_id, bf16, precision)
    # spaCy's own reader, so the examples (and scores) are those of `spacy train` and `spacy evaluate`:
    # pre-tokenized data keeps its tokens.
    examples = list(Corpus(data_path)(nlp))
    scores = nlp.evaluate(examples)
    result = {k: scores.get(k) for k in SCORE_KEYS}
    result["triples_per_type"] = scores.get("triples_per_type")
    result["triples_per_overlap"] = scores.get("triples_per_overlap")
    result["n_docs"] = len(examples)
    per_type = result["triples_per_type"] or {}
    result["triples_macro_f"] = sum(v["f"] for v in per_type.values()) / len(per_type) if per_type else None
    if output_path:
        from ..safe_io import write_text

        write_text(output_path, json.dumps(result, indent=2))
    return result


def format_scores(result: dict) -> str:
    """The scores of :func:`evaluate` as the table ``evaluate`` prints."""

    def pct(v):
        return "-" if v is None else f"{100 * v:6.2f}"

    def row(title, key):
        return f"{title:24} {pct(result[key + '_p'])} {pct(result[key + '_r'])} {pct(result[key + '_f'])}"

    lines = [f"{'':24} {'P':>6} {'R':>6} {'F':>6}", row("triples (exact)", "triples"),
             row("triples (strict, typed)", "triples_strict"), row("triples (text, DuIE)", "triples_text")]
    if result.get("triples_last_word_f") is not None:
        lines.append(row("triples (last word, *)", "triples_last_word"))
    lines.append(row("entity spans", "triple_ents"))
    per_type = result.get("triples_per_type") or {}
    if per_type:
        macro = sum(v["f"] for v in per_type.values()) / len(per_type)
        lines.append(f"{'triples macro F (rel.)':24} {'':6} {'':6} {pct(macro)}")
    for title, key in (("per relation", "triples_per_type"), ("per overlap class", "triples_per_overlap")):
        lines.append(f"-- {title}")
        for name, prf in (result.get(key) or {}).items():
            lines.append(f"{name[:24]:24} {pct(prf['p'])} {pct(prf['r'])} {pct(prf['f'])}")
    return "\n".join(lines)
