"""``spacy_triples.TokenFeatures.v1``: a tok2vec with a few lexical features beside it.

An uncased encoder (all-MiniLM-L6-v2 lowercases its input) cannot see capitalisation, which marks
where a name begins and ends ("the Premier Development League"). This layer puts hash embeddings
of token attributes (by default spaCy's ``SHAPE``: "Xxxxx", "X.X.", "dddd") next to the vectors of
any tok2vec, so the head reads both: List[Doc] -> List[Floats2d] of width tok2vec's + ``width``.
"""
from typing import List

from spacy.ml.models.tok2vec import MultiHashEmbed
from spacy.tokens import Doc
from thinc.api import Model, concatenate
from thinc.types import Floats2d


def build_token_features(
    tok2vec: Model[List[Doc], List[Floats2d]],
    attrs: List[str] = ["SHAPE"],
    rows: List[int] = [1000],
    width: int = 32,
) -> Model[List[Doc], List[Floats2d]]:
    """Registered as ``spacy_triples.TokenFeatures.v1``.

    tok2vec: the vectors to extend (a TransformerListener, a Tok2VecListener, a DGCNN, ...).
    attrs, rows: the token attributes embedded (spaCy attribute names) and each one's hash table
        rows, as in ``spacy.MultiHashEmbed.v2``.
    width: the width of the features, mixed by MultiHashEmbed's Maxout layer.
    """
    if not attrs or len(attrs) != len(rows):
        raise ValueError(f"TokenFeatures needs one rows entry per attribute, got attrs={attrs!r} and rows={rows!r}")
    if not (isinstance(width, int) and width > 0):
        raise ValueError(f"TokenFeatures width must be a positive integer, got {width!r}")
    features = MultiHashEmbed(width, list(attrs), list(rows), include_static_vectors=False)
    model = concatenate(tok2vec, features)
    model.name = "token_features"
    return model
