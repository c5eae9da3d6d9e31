"""Chinese: normalisation with offsets kept, DuIE conversion, the zh DGCNN config and a Chinese BERT."""
import shutil

import pytest
import spacy
from spacy.training import Example
from thinc.api import Config

from spacy_triples.cli import convert
from spacy_triples.convert.base import normalise_text, normalised_occurrences

from ..util import ROOT, FIXTURES, assert_same_triples, keep_one_layer, overfit, train, zh_examples, zh_test_config



def test_normalizing_tokenizer_sets_norms_and_keeps_offsets(tmp_path):
    config = spacy.blank("zh").config
    config["nlp"]["tokenizer"] = {"@tokenizers": "spacy_triples.normalizing_tokenizer.v1",
                                  "base": dict(config["nlp"]["tokenizer"])}
    nlp = spacy.util.load_model_from_config(config, auto_fill=True)
    nlp.initialize()
    text = "ＧＶ－９７１由中国 海洋大学（上海）研发"
    doc = nlp(text)
    assert doc.text == text
    assert "".join(t.norm_ for t in doc) == "gv-971由中国海洋大学(上海)研发"
    assert [t.idx for t in doc] == [i for i, ch in enumerate(text) if not ch.isspace()]
    assert [t.norm_ for t in nlp.make_doc(text)] == [t.norm_ for t in doc]  # training docs too
    nlp.to_disk(tmp_path / "m")
    assert [t.norm_ for t in spacy.load(tmp_path / "m")(text)] == [t.norm_ for t in doc]


def test_width_and_space_insensitive_entity_matching():
    assert normalise_text("Ａ Ｂ（１）") == ("ab(1)", [0, 2, 3, 4, 5])
    doc = spacy.blank("zh")("ＧＶ－９７１由中国 海洋大学研发")
    (span,) = normalised_occurrences(doc, "GV-971")
    assert doc[span[0] : span[1]].text == "ＧＶ－９７１"
    (span,) = normalised_occurrences(doc, "中国海洋大学")
    assert doc[span[0] : span[1]].text == "中国 海洋大学"  # the span keeps the original spacing
    assert normalised_occurrences(doc, "复旦大学") == []


@pytest.fixture(scope="module")
def zh_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("zh") / "train.spacy"
    report = convert(str(FIXTURES / "zh_train.jsonl"), str(out), fmt="duie", schema=str(FIXTURES / "zh_schema.json"))
    rows = report.as_dict()
    assert rows["triples written"] == rows["triples read"] == 8
    assert rows["entities found after width/space normalisation"] == 1
    return out


@pytest.mark.parametrize("name", ["zh_dgcnn", "zh_pointer_dgcnn"])
def test_zh_config_overfits_with_schema_and_text_scores(zh_corpus, tmp_path, name):
    nlp = spacy.util.load_model_from_config(zh_test_config(name), auto_fill=True, validate=True)
    assert nlp.pipe_names == ["tok2vec", "triple_extractor"]
    examples = zh_examples(nlp, zh_corpus)
    assert all(len(eg.predicted) == len(eg.predicted.text.replace(" ", "")) for eg in examples)  # one token per character
    overfit(nlp, examples)
    scores = nlp.evaluate(examples)
    assert scores["triples_strict_f"] == 1.0 and scores["triples_text_f"] == 1.0
    pipe = nlp.get_pipe("triple_extractor")
    assert set(pipe.cfg["schema"]) == {"作者", "主演", "导演", "研发单位", "出生日期", "出生地", "出版社"}
    doc = nlp("ＧＶ－９７１由中国海洋大学联合研发")
    (t,) = doc._.triples
    assert (t.subject.text, t.relation, t.object.text, t.subject.label_) == ("ＧＶ－９７１", "研发单位", "中国海洋大学", "药物")
    assert doc.text[t.subject.start_char : t.subject.end_char] == "ＧＶ－９７１"  # offsets into the input
    nlp.to_disk(tmp_path / "zh")
    nlp2 = spacy.load(tmp_path / "zh")
    assert_same_triples([nlp2(doc.text)], [doc])
    texts = [eg.reference.text for eg in examples]
    assert_same_triples(list(nlp2.pipe(texts, n_process=2)), list(nlp2.pipe(texts)))


def test_text_level_scores_count_a_fact_once():
    from spacy_triples.scorer import score_triples

    nlp = spacy.blank("zh")
    ref = nlp("周杰伦和周杰伦")
    ref._.triples = [(ref[0:3], "同名", ref[4:7])]
    pred = nlp("周杰伦和周杰伦")
    pred._.triples = [(pred[4:7], "同名", pred[0:3])]  # reversed occurrences: same texts
    scores = score_triples([Example(pred, ref)])
    assert scores["triples_f"] == 0.0 and scores["triples_text_f"] == 1.0


def test_chinese_bert_transformer_path(zh_corpus, tmp_path):
    pytest.importorskip("spacy_transformers")
    transformers = pytest.importorskip("transformers")
    folder = tmp_path / "zh_bert"
    shutil.copytree(FIXTURES / "zh_bert", folder)
    vocab_size = sum(1 for _ in open(folder / "vocab.txt", encoding="utf8"))
    config = transformers.BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=64, max_position_embeddings=128)
    import torch

    torch.manual_seed(0)  # the same random BERT every run
    transformers.BertModel(config).save_pretrained(folder)
    transformers.BertTokenizerFast(str(folder / "vocab.txt"), do_lower_case=False).save_pretrained(folder)
    cfg = Config().from_disk(ROOT / "configs" / "gp_transformer.cfg")
    cfg["nlp"]["lang"] = "zh"
    cfg["nlp"]["tokenizer"] = {"@tokenizers": "spacy.zh.ChineseTokenizer", "segmenter": "char"}
    cfg["initialize"]["tokenizer"] = {"pkuseg_model": None, "pkuseg_user_dict": "default"}
    cfg["components"]["transformer"]["model"]["name"] = str(folder)
    keep_one_layer(cfg)
    cfg["components"]["triple_extractor"]["max_span_length"] = 48
    # the token-shape features beside the encoder say nothing about Chinese characters (every one
    # is "x"), so a Chinese pipeline reads the listener alone, as docs/chinese.md advises
    model = cfg["components"]["triple_extractor"]["model"]
    assert model["tok2vec"]["@architectures"] == "spacy_triples.TokenFeatures.v1"
    model["tok2vec"] = model["tok2vec"]["tok2vec"]
    nlp = spacy.util.load_model_from_config(cfg, auto_fill=True, validate=True)
    examples = zh_examples(nlp, zh_corpus)
    train(nlp, examples, n_iter=150, learn_rate=0.003)
    doc = nlp(examples[0].reference.text)
    # every character token is aligned to a wordpiece of the Chinese vocab
    assert doc._.trf_data.align.lengths.min() >= 1
    assert nlp.evaluate(examples)["triples_f"] > 0.8
    nlp.to_disk(tmp_path / "m")
    assert_same_triples([spacy.load(tmp_path / "m")(doc.text)], [doc])
