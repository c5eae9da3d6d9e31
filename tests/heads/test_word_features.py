"""``spacy_triples.WordFeatures.v1``: a character-token pipeline also sees the word each character
lies in (jieba's segmentation), as the seed's LIC2019 DGCNN mixed character and word input."""
import pickle
import sys

import numpy
import pytest
import spacy
from spacy.strings import get_string_id

from spacy_triples.encoders.word_features import build_word_features, jieba_segmenter, word_keys

CHAR_EMBED = {"@architectures": "spacy.MultiHashEmbed.v2", "width": 16, "attrs": ["NORM"], "rows": [500],
              "include_static_vectors": False}


@pytest.fixture(scope="module")
def nlp_zh():
    return spacy.blank("zh")  # spaCy's default Chinese tokenizer: one token per character


def test_each_token_gets_its_word_and_its_place_in_it(nlp_zh):
    doc = nlp_zh("路遥写小说")
    keys = word_keys(doc, ((0, 2), (2, 3), (3, 5)))  # 路遥 | 写 | 小说
    word = [get_string_id(w) for w in ("路遥", "路遥", "写", "小说", "小说")]
    place = [get_string_id(p) for p in ("B2", "E2", "S1", "B2", "E2")]
    assert keys.dtype == numpy.uint64
    assert keys[:, 0].tolist() == word and keys[:, 1].tolist() == place
    middle = word_keys(nlp_zh("中国青年出版社"), ((0, 7),))
    assert [k == get_string_id("M4") for k in middle[:, 1]] == [False] + [True] * 5 + [False]
    # a token no word covers is a word of its own; full-width and case do not make another word
    assert word_keys(nlp_zh("路遥"), ((0, 1),))[1].tolist() == [get_string_id("遥"), get_string_id("S1")]
    assert word_keys(nlp_zh("ＧＶ"), ((0, 2),))[0, 0] == word_keys(nlp_zh("gv"), ((0, 2),))[0, 0] == get_string_id("gv")


@pytest.mark.parametrize("text", ["《平凡的世界》是路遥创作的长篇小说，1986年由中国青年出版社出版",
                                  "", " ", "ＧＶ－９７１由中国 海洋大学\n研发", "🙂 a-b\u200b周杰伦\t", "x" * 3000])
def test_jieba_covers_every_character_once_and_in_order(text):
    words = jieba_segmenter()(text)
    assert "".join(text[start:end] for start, end in words) == text
    assert all(end > start for start, end in words)
    assert jieba_segmenter()(text) == words  # dictionary only: the same text, the same words


def test_one_character_in_two_words_gets_two_feature_vectors(nlp_zh):
    inner = spacy.registry.resolve({"x": CHAR_EMBED})["x"]
    model = build_word_features(inner, width=8, rows=100)
    docs = [nlp_zh("长篇小说"), nlp_zh("队长"), nlp_zh("")]
    model.initialize(X=docs[:2])
    novel, captain, empty = model.predict(docs)
    assert novel.shape == (4, 24) and captain.shape == (2, 24) and empty.shape == (0, 24)
    assert numpy.abs(novel[0, :16] - captain[1, :16]).max() == 0  # the same character "长" ...
    assert numpy.abs(novel[0, 16:] - captain[1, 16:]).max() > 0  # ... in another word, at another place


def test_the_zh_config_with_words_overfits_round_trips_and_runs_in_two_processes(tmp_path):
    from ..util import FIXTURES, assert_same_triples, overfit, zh_examples, zh_test_config
    from spacy_triples.cli import convert

    corpus = tmp_path / "train.spacy"
    convert(str(FIXTURES / "zh_train.jsonl"), str(corpus), fmt="duie", schema=str(FIXTURES / "zh_schema.json"))
    config = zh_test_config("zh_pointer_dgcnn")
    char_embed = dict(config["components"]["tok2vec"]["model"]["embed"])
    config["components"]["tok2vec"]["model"]["embed"] = {"@architectures": "spacy_triples.WordFeatures.v1",
                                                         "tok2vec": char_embed, "width": 32, "rows": 2000}
    nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    examples = zh_examples(nlp, corpus)
    overfit(nlp, examples)
    assert nlp.evaluate(examples)["triples_strict_f"] == 1.0
    nlp.to_disk(tmp_path / "zh")
    loaded = spacy.load(tmp_path / "zh")
    texts = [eg.reference.text for eg in examples]
    assert_same_triples(list(loaded.pipe(texts)), list(nlp.pipe(texts)))
    assert_same_triples(list(loaded.pipe(texts, n_process=2)), list(nlp.pipe(texts)))
    assert_same_triples(list(pickle.loads(pickle.dumps(loaded)).pipe(texts)), list(nlp.pipe(texts)))


def test_without_jieba_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "jieba", None)  # import jieba now raises ImportError
    with pytest.raises(ImportError, match=r"spacy-triples\[zh\]"):
        build_word_features(None)


@pytest.mark.parametrize("kwargs,message", [
    ({"segmenter": "pkuseg"}, "segmenter must be one of"),
    ({"rows": 0}, "rows must be a positive integer"),
    ({"width": 2.5}, "width must be a positive integer"),
])
def test_bad_settings_are_refused_with_a_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_word_features(None, **kwargs)
