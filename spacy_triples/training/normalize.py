"""``spacy_triples.normalizing_tokenizer.v1``: character-width normalisation, offsets untouched.

Chinese (and Japanese) text mixes full-width and half-width forms of the same letters, digits and
punctuation ("ＧＶ－９７１" / "GV-971"). The reference DuIE models normalised the text before
encoding, which moves character offsets. Here the tokenizer writes the NFKC, lowercased form of
each token to ``token.norm_``: encoders that embed NORM (the CNN and DGCNN configs) see one form,
while ``doc.text`` and every span offset in ``doc._.triples`` stay those of the input. Being the
tokenizer, it applies alike to training docs (``nlp.make_doc``) and to prediction.
"""
import unicodedata
from typing import Any, Callable, Iterable, Iterator

from spacy.language import Language
from spacy.tokens import Doc


def normalise_norms(doc: Doc) -> Doc:
    """Set token.norm_ to NFKC(text).lower() where that differs from the current norm."""
    for token in doc:
        norm = unicodedata.normalize("NFKC", token.text).lower()
        if norm != token.norm_:
            token.norm_ = norm
    return doc


class NormalizingTokenizer:
    """Wraps a tokenizer (e.g. spaCy's Chinese character segmenter) and normalises token norms.
    Everything else (initialize, serialization, attributes) is the wrapped tokenizer's."""

    def __init__(self, base: Any) -> None:
        self.base = base

    def __call__(self, text: str) -> Doc:
        return normalise_norms(self.base(text))

    def pipe(self, texts: Iterable[str], batch_size: int = 1000) -> Iterator[Doc]:
        for text in texts:
            yield self(text)

    def __getattr__(self, name: str) -> Any:
        if name == "base":  # not set yet (unpickling)
            raise AttributeError(name)
        return getattr(self.base, name)

    def __reduce__(self):
        return (NormalizingTokenizer, (self.base,))


def create_normalizing_tokenizer(base: Callable[[Language], Any]) -> Callable[[Language], NormalizingTokenizer]:
    """Registered as ``spacy_triples.normalizing_tokenizer.v1``.

    base: the tokenizer to wrap, e.g. ``{"@tokenizers": "spacy.zh.ChineseTokenizer", "segmenter": "char"}``.
    """

    def tokenizer_factory(nlp: Language) -> NormalizingTokenizer:
        return NormalizingTokenizer(base(nlp))

    return tokenizer_factory
