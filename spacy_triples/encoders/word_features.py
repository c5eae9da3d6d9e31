"""``spacy_triples.WordFeatures.v1``: the word each token lies in, beside a character tok2vec.

The Chinese pipelines tokenize by character (spaCy's ``zh`` "char" segmenter): every entity
boundary is then a token boundary, but a character's vectors do not say which word it belongs to.
Su Jianlin's LIC2019 extractor, which ``configs/zh_pointer_dgcnn.cfg`` follows, fed the DGCNN
characters *and* words. This layer does that without re-tokenizing: it segments each doc's text
into words (``jieba``, the ``zh`` extra, dictionary only: ``HMM=False``), and puts beside the
vectors of any tok2vec hash embeddings of

- the word the token lies in (NFKC, lowercased: "ＧＶ" and "gv" are one word), and
- the token's place in that word: B(egin), M(iddle), E(nd) or S(ingle), plus the word's length
  in characters (1, 2, 3, 4 or more).

List[Doc] -> List[Floats2d] of width tok2vec's + ``width``. Tokens, offsets and ``doc.text`` stay
the input's; a token that no segmented word covers (not expected from jieba, which covers every
character) is its own word.
"""
import bisect
import logging
import threading
import unicodedata
from functools import lru_cache
from typing import Callable, List, Tuple

import numpy
from spacy.strings import get_string_id
from spacy.tokens import Doc
from thinc.api import HashEmbed, Maxout, Model, chain, concatenate, with_array
from thinc.types import Floats2d, Ints2d

SEGMENTERS = ("jieba",)
_JIEBA_LOCK = threading.Lock()


def jieba_segmenter() -> Callable[[str], Tuple[Tuple[int, int], ...]]:
    """The text's words as (start, end) character offsets, from jieba's dictionary (no HMM guesses,
    so the same text always gives the same words). Raises ImportError with the extra to install."""
    try:
        import jieba
    except ImportError as err:
        raise ImportError("WordFeatures with segmenter 'jieba' needs jieba: pip install 'spacy-triples[zh]' "
                          "(or pip install jieba)") from err
    with _JIEBA_LOCK:
        if not jieba.dt.initialized:
            logger = logging.getLogger("jieba")
            level = logger.level
            logger.setLevel(logging.WARNING)  # jieba logs its dictionary loading at DEBUG to stderr
            try:
                jieba.initialize()
            finally:
                logger.setLevel(level)
    return _jieba_words  # a module-level function: a pipeline holding it pickles


@lru_cache(maxsize=200_000)  # training sees the same texts every epoch
def _jieba_words(text: str) -> Tuple[Tuple[int, int], ...]:
    import jieba

    return tuple((start, end) for _, start, end in jieba.tokenize(text, HMM=False))


def word_keys(doc: Doc, words: Tuple[Tuple[int, int], ...]) -> numpy.ndarray:
    """Per token: (hash of its word's normalised text, hash of its place and the word's length).
    ``words`` are (start, end) character offsets into ``doc.text``, sorted and not overlapping."""
    starts = [start for start, _ in words]
    keys = numpy.zeros((len(doc), 2), dtype="uint64")
    text = doc.text
    for i, token in enumerate(doc):
        begin, end = token.idx, token.idx + len(token)
        j = bisect.bisect_right(starts, begin) - 1
        if j >= 0 and words[j][0] <= begin < words[j][1]:
            w_start, w_end = words[j]
        else:
            w_start, w_end = begin, end
        word = unicodedata.normalize("NFKC", text[w_start:w_end]).lower()
        if begin <= w_start and end >= w_end:
            place = "S"
        elif begin <= w_start:
            place = "B"
        elif end >= w_end:
            place = "E"
        else:
            place = "M"
        keys[i, 0] = get_string_id(word)
        keys[i, 1] = get_string_id(f"{place}{min(w_end - w_start, 4)}")
    return keys


def build_word_features(
    tok2vec: Model[List[Doc], List[Floats2d]],
    segmenter: str = "jieba",
    rows: int = 20000,
    width: int = 64,
) -> Model[List[Doc], List[Floats2d]]:
    """Registered as ``spacy_triples.WordFeatures.v1``.

    tok2vec: the vectors to extend (for the DGCNN: its character embedding, ``spacy.MultiHashEmbed.v2``).
    segmenter: what splits the text into words: ``"jieba"`` (the ``zh`` extra).
    rows: hash table rows for the words.
    width: the width of the features (the word's and its place's embeddings mixed by a Maxout layer).
    """
    if segmenter not in SEGMENTERS:
        raise ValueError(f"WordFeatures segmenter must be one of {SEGMENTERS}, got {segmenter!r}")
    for name, value in (("rows", rows), ("width", width)):
        if not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
            raise ValueError(f"WordFeatures {name} must be a positive integer, got {value!r}")
    segment = jieba_segmenter()
    keys = Model("word_keys", _keys_forward, attrs={"segment": segment})
    embed = with_array(chain(
        concatenate(HashEmbed(width, rows, column=0, seed=11, dropout=0.0),
                    HashEmbed(width, 64, column=1, seed=12, dropout=0.0)),
        Maxout(width, 2 * width, nP=3, dropout=0.0, normalize=True)))
    model = concatenate(tok2vec, chain(keys, embed))
    model.name = "word_features"
    return model


def _keys_forward(model: Model, docs: List[Doc], is_train: bool) -> Tuple[List[Ints2d], Callable]:
    segment = model.attrs["segment"]
    keys = [model.ops.asarray2i(word_keys(doc, segment(doc.text)), dtype="uint64") for doc in docs]
    return keys, lambda d_keys: []
