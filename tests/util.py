"""Shared test data: a handful of sentences covering a shared entity, a pair with two relations
and nested spans."""
from pathlib import Path

import spacy
import torch
from spacy.language import Language
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Example
from thinc.api import Config

from spacy_triples import Triple

ROOT = Path(__file__).resolve().parent.parent  # the repository
FIXTURES = Path(__file__).parent / "fixtures"

# (words, [(s_start, s_end, relation, o_start, o_end)]) with token offsets, end exclusive
TRAIN_DATA = [
    ("Barack Obama was born in Honolulu .".split(), [(0, 2, "born_in", 5, 6)]),
    (
        "Angela Merkel lives in Berlin and works for the German government .".split(),
        [(0, 2, "lives_in", 4, 5), (0, 2, "works_for", 8, 11)],
    ),
    (
        "Paris is the capital and largest city of France .".split(),
        [(0, 1, "capital_of", 8, 9), (0, 1, "located_in", 8, 9)],
    ),
    (
        "The University of Chicago was founded by John Rockefeller .".split(),
        [(1, 4, "located_in", 3, 4), (1, 4, "founded_by", 7, 9)],
    ),
    ("Microsoft hired Satya Nadella in Redmond .".split(), [(2, 4, "works_for", 0, 1), (0, 1, "located_in", 5, 6)]),
    # the same fact repeated, so the model also sees it inside running text (for the long-doc test)
    ("Barack Obama was born in Honolulu . ".split() * 3, [(k, k + 2, "born_in", k + 5, k + 6) for k in (0, 7, 14)]),
]
LABELS = sorted({r for _, triples in TRAIN_DATA for _, _, r, _, _ in triples})


def make_doc(nlp, words, triples):
    doc = Doc(nlp.vocab, words=words)
    doc._.triples = [Triple(doc[s0:s1], rel, doc[o0:o1]) for s0, s1, rel, o0, o1 in triples]
    return doc


def make_examples(nlp, data=TRAIN_DATA):
    return [Example(Doc(nlp.vocab, words=words), make_doc(nlp, words, triples)) for words, triples in data]


def train(nlp, examples, n_iter=200, seed=0, learn_rate=None):
    spacy.util.fix_random_seed(seed)
    optimizer = nlp.initialize(lambda: examples)
    if learn_rate is not None:
        optimizer.learn_rate = learn_rate
    for _ in range(n_iter):
        losses = {}
        nlp.update(examples, sgd=optimizer, losses=losses, drop=0.0)
    return losses


def build_tiny_bert(folder):
    """A tiny random BERT (2 layers, 32 wide) with a vocab of the test words, saved to ``folder``."""
    import transformers

    words = sorted({w.lower() for words, _ in TRAIN_DATA for w in words})
    vocab = list(dict.fromkeys(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words + list("abcdefghijklmnopqrstuvwxyz.")))
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf8")
    config = transformers.BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=64, max_position_embeddings=128,
    )
    import torch

    torch.manual_seed(0)  # the same weights every time: a test's result must not depend on the draw
    transformers.BertModel(config).save_pretrained(folder)
    transformers.BertTokenizerFast(str(folder / "vocab.txt"), do_lower_case=True).save_pretrained(folder)
    return str(folder)


def tiny_gp_config(name: str, all_layers: bool = False):
    """``configs/gp_transformer.cfg`` with the tiny BERT in folder ``name`` and windows that fit it.
    Its ``num_hidden_layers`` keeps one of the tiny BERT's two layers (``keep_one_layer``), or both
    with ``all_layers``."""
    from thinc.api import Config

    config = Config().from_disk("configs/gp_transformer.cfg")
    # float32 on every CPU, whatever the config's bfloat16 switch says (tests compare floats
    # across machines; tests/training/test_precision.py tests the switch itself)
    config["nlp"]["after_pipeline_creation"]["enabled"] = False
    config["components"]["transformer"]["model"]["name"] = name
    config["components"]["transformer"]["model"]["get_spans"]["window"] = 16
    config["components"]["transformer"]["model"]["get_spans"]["stride"] = 12
    if all_layers:
        del config["components"]["transformer"]["model"]["transformer_config"]["num_hidden_layers"]
        return config
    return keep_one_layer(config)


def keep_one_layer(config):
    """A config that keeps the lower layers of its encoder (``num_hidden_layers`` in
    ``transformer_config``, as ``configs/gp_transformer.cfg`` keeps 5 of MiniLM's 6) keeps one of the
    tiny BERT's two: a number above the checkpoint's own would add random layers."""
    settings = config["components"]["transformer"]["model"].get("transformer_config") or {}
    if "num_hidden_layers" in settings:
        settings["num_hidden_layers"] = 1
    return config


def init_tiny_gp(config, folder):
    """``spacy train``'s initialisation (``init_nlp``, callbacks included) of ``config`` (e.g.
    ``tiny_gp_config``), with both corpora pointed at TRAIN_DATA written to ``folder``."""
    import warnings

    from spacy.tokens import DocBin
    from spacy.training.initialize import init_nlp

    path = str(folder / "train.spacy")
    config["corpora"]["train"]["path"] = config["corpora"]["dev"]["path"] = path
    blank = spacy.blank("en")
    blank.add_pipe("triple_extractor")
    DocBin(docs=[eg.reference for eg in make_examples(blank)], store_user_data=True).to_disk(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return init_nlp(config)


# ---------------------------------------------------------------------- comparing floats
# Floats computed by torch differ in the last bits between CPUs (AMD, Intel with AMX, Arm) and
# between batch shapes (another kernel, another order of additions). Every comparison of such
# floats goes through assert_close / assert_same_triples with these tolerances, never `==` or a
# default tolerance (numpy.allclose's atol is 1e-8); tests/test_float_comparisons.py checks that.
# float32 results of one computation through two code paths agree to ~1e-6 relative here.
RTOL = 1e-4
ATOL = 1e-5
# a score this close to a decision threshold may fall on either side of it on another CPU
CUT_MARGIN = 1e-4


def assert_close(actual, expected, *, rtol: float = RTOL, atol: float = ATOL, err_msg: str = ""):
    """numpy.testing.assert_allclose with the tolerances above; takes torch tensors, numpy arrays,
    lists and scalars."""
    import numpy

    def to_numpy(x):
        if hasattr(x, "detach"):
            x = x.detach().cpu().float().numpy()
        return numpy.asarray(x, dtype="float64")

    numpy.testing.assert_allclose(to_numpy(actual), to_numpy(expected), rtol=rtol, atol=atol, err_msg=err_msg)


def _triple_dicts(docs_or_dicts):
    """A list (per doc) of lists of Triple.to_dict() dicts, from docs or from such lists."""
    out = []
    for item in docs_or_dicts:
        if hasattr(item, "_"):
            out.append([t.to_dict() for t in item._.triples])
        else:
            out.append([t if isinstance(t, dict) else t.to_dict() for t in item])
    return out


def assert_same_triples(got, expected, *, threshold=0.5, atol: float = ATOL):
    """The same triples doc by doc: every field equal, scores within ``atol``. A triple whose score
    lies within CUT_MARGIN of ``threshold`` (a float, or a dict relation -> threshold) may be on one
    side only: another CPU can put it either side of the cut. ``got``/``expected``: lists of docs or
    of lists of Triple.to_dict() dicts."""
    got, expected = _triple_dicts(got), _triple_dicts(expected)
    assert len(got) == len(expected), (len(got), len(expected))

    def cut(t):
        if isinstance(threshold, dict):
            return threshold.get(t["relation"], 0.5)
        return threshold

    def key(t):
        return tuple(sorted((k, repr(v)) for k, v in t.items() if k != "score"))

    for n, (g, e) in enumerate(zip(got, expected)):
        g_by, e_by = {key(t): t for t in g}, {key(t): t for t in e}
        for k in g_by.keys() & e_by.keys():
            assert abs(g_by[k]["score"] - e_by[k]["score"]) <= atol, (n, g_by[k], e_by[k])
        for k in g_by.keys() ^ e_by.keys():
            t = g_by.get(k) or e_by.get(k)
            assert threshold is not None and abs(t["score"] - cut(t)) <= CUT_MARGIN, (
                f"doc {n}: triple only in {'got' if k in g_by else 'expected'}: {t}")
        # the order of the triples is part of the output (sorted by position, then relation)
        assert [key(t) for t in g if key(t) in e_by] == [key(t) for t in e if key(t) in g_by], n


def save_with_component(model_dir, factory: str, folder) -> str:
    """The pipeline at ``model_dir`` with the component ``factory`` added last, saved in ``folder``
    (the extract and Ray tests' pipeline that raises on one chosen text)."""
    nlp = spacy.load(model_dir)
    nlp.add_pipe(factory)
    path = folder / "model"
    nlp.to_disk(path)
    return str(path)


# Shared by several test modules: pipelines, configs and probes

TYPES = {"Barack Obama": "PER", "Honolulu": "LOC", "Angela Merkel": "PER", "Berlin": "LOC",
         "the German government": "ORG", "Paris": "LOC", "France": "LOC", "University of Chicago": "ORG",
         "Chicago": "LOC", "John Rockefeller": "PER", "Microsoft": "ORG", "Satya Nadella": "PER", "Redmond": "LOC"}


def typed_examples(nlp):
    examples = []
    for words, triples in TRAIN_DATA:
        ref = Doc(nlp.vocab, words=words)
        ref._.triples = [(Span(ref, s0, s1, label=TYPES[ref[s0:s1].text]), rel,
                          Span(ref, o0, o1, label=TYPES[ref[o0:o1].text])) for s0, s1, rel, o0, o1 in triples]
        examples.append(Example(Doc(nlp.vocab, words=words), ref))
    return examples


EMBED = {"@architectures": "spacy.MultiHashEmbed.v2", "width": 64, "rows": [500, 100, 100, 50],
         "attrs": ["NORM", "PREFIX", "SUFFIX", "SHAPE"], "include_static_vectors": False}


DGCNN = {"@architectures": "spacy_triples.DGCNN.v1", "width": 64, "attention_heads": 4, "embed": EMBED}


CNN = {"@architectures": "spacy.Tok2Vec.v2", "embed": EMBED, "encode": {
    "@architectures": "spacy.MaxoutWindowEncoder.v2", "width": 64, "window_size": 1, "maxout_pieces": 3, "depth": 2}}


POINTER = "spacy_triples.PointerHead.v1"


GP = "spacy_triples.GlobalPointer.v1"


GP2 = "spacy_triples.GlobalPointer.v2"


def train_head(head, tok2vec, examples_fn=make_examples, n_iter=300, config=None, early_stop=True, model_args=None):
    nlp = spacy.blank("en")
    model = {"@architectures": head, "tok2vec": tok2vec, **(model_args or {})}
    nlp.add_pipe("triple_extractor", config={"model": model, **(config or {})})
    examples = examples_fn(nlp)
    spacy.util.fix_random_seed(0)
    optimizer = nlp.initialize(lambda: examples)
    for i in range(n_iter):
        nlp.update(examples, sgd=optimizer, drop=0.0)
        if early_stop and i % 50 == 49 and nlp.evaluate(examples)["triples_f"] == 1.0:
            break
    return nlp, examples


def param_snapshot(model):
    out = {}
    for node in model.walk():
        for name in node.param_names:
            if node.has_param(name):
                out[(node.name, node.id, name)] = node.get_param(name).copy()
        for shim in node.shims:
            for name, tensor in shim._model.named_parameters():
                out[(node.name, shim.id, name)] = tensor.detach().numpy().copy()
    return out


def gp_linker(nlp):
    return nlp.get_pipe("triple_extractor").model.get_ref("output_layer").layers[0].shims[0]._model


def gp_entity_scores(nlp, text):
    doc = nlp.make_doc(text)
    vectors = nlp.get_pipe("triple_extractor").model.get_ref("tok2vec").predict([doc])[0]
    with torch.no_grad():
        return gp_linker(nlp).scores(torch.tensor(vectors)[None])[0]


def transformer_config(name: str, path: str = "configs/transformer.cfg") -> Config:
    config = Config().from_disk(path)
    config["components"]["transformer"]["model"]["name"] = name
    config["components"]["transformer"]["model"]["get_spans"]["window"] = 16
    config["components"]["transformer"]["model"]["get_spans"]["stride"] = 12
    return keep_one_layer(config)


GOLD = {tuple(words): triples for words, triples in TRAIN_DATA}


@Language.component("spacy_triples_test_gold_triples")
def gold_triples(doc):
    """Test stand-in for a trained pipeline: the gold triples of tests/util.py's sentences."""
    triples = GOLD.get(tuple(t.text for t in doc), [])
    doc._.triples = [Triple(doc[s0:s1], rel, doc[o0:o1], 0.9) for s0, s1, rel, o0, o1 in triples]
    return doc


def gold_nlp():
    nlp = spacy.blank("en")
    nlp.add_pipe("spacy_triples_test_gold_triples")
    nlp.meta["name"], nlp.meta["version"] = "gold", "1.2.3"
    return nlp


def zh_examples(nlp, path):
    """Examples of the .spacy file at ``path``: predicted docs made by ``nlp``'s tokenizer."""
    docs = list(DocBin().from_disk(path).get_docs(nlp.vocab))
    return [Example(nlp.make_doc(d.text), d) for d in docs]


def zh_test_config(name):
    """configs/{name}.cfg set up to overfit the five fixture sentences quickly."""
    config = Config().from_disk(ROOT / "configs" / f"{name}.cfg", interpolate=False)
    config["paths"]["schema"] = str(FIXTURES / "zh_schema.json")
    config["components"]["triple_extractor"]["model"]["dropout"] = 0.0
    config["components"]["tok2vec"]["model"]["attention_heads"] = 0  # converges faster on five sentences
    return config


def overfit(nlp, examples, n_iter=400):
    """Train on ``examples`` until strict F1 is 1.0 on them (checked every 50 updates) or n_iter."""
    spacy.util.fix_random_seed(0)
    optimizer = nlp.initialize(lambda: examples)
    for i in range(n_iter):
        nlp.update(examples, sgd=optimizer, drop=0.0)
        if i % 50 == 49 and nlp.evaluate(examples)["triples_strict_f"] == 1.0:
            break
