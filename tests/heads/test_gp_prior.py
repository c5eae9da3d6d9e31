"""GlobalPointer.v2: v1 with a prior on its pointer scores, so that an untrained head proposes nothing."""
import math

import pytest
import spacy
import torch

from spacy_triples.heads.global_pointer.model import build_global_pointer_v2
from spacy_triples.heads.global_pointer.pytorch import GlobalPointerLinker

from ..util import DGCNN, GP, GP2, assert_close, assert_same_triples, gp_entity_scores, gp_linker, make_examples, train_head, TRAIN_DATA

TEXTS = [" ".join(words) for words, _ in TRAIN_DATA]


def _fresh(head, **model_args):
    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("triple_extractor", config={"model": {"@architectures": head, "tok2vec": DGCNN, **model_args}})
    examples = make_examples(nlp)
    nlp.initialize(lambda: examples)
    return nlp


def test_fresh_v2_head_proposes_nothing_where_v1s_initialisation_passes_many_spans():
    nlp = _fresh(GP2)
    assert [len(doc._.triples) for doc in nlp.pipe(TEXTS)] == [0] * len(TEXTS)
    assert float(gp_entity_scores(nlp, TEXTS[1]).max()) < 0.0  # below logit(0.5) everywhere
    linker = gp_linker(nlp)
    with torch.no_grad():  # back to v1's initialisation: a large share of all spans passes
        for pointer in (linker.entity, linker.head, linker.tail):
            pointer.bias.bias.sub_(-8.0)
    share = float((gp_entity_scores(nlp, TEXTS[1]) > 0).float().mean())
    assert share > 0.1
    with torch.no_grad():  # lifted above the threshold, the same head proposes (up to its caps)
        for pointer in (linker.entity, linker.head, linker.tail):
            pointer.bias.bias.fill_(8.0)
    assert all(len(doc._.triples) > 0 for doc in nlp.pipe(TEXTS))


@pytest.mark.parametrize("entity_prior,relation_prior", [(-8.0, -3.0), (-2.0, 0.0)])
def test_prior_shifts_every_initial_score_by_itself(entity_prior, relation_prior):
    x = torch.randn(2, 7, 16)
    torch.manual_seed(0)
    plain = GlobalPointerLinker(16, 3, head_size=8)
    torch.manual_seed(0)
    linker = GlobalPointerLinker(16, 3, head_size=8, entity_prior=entity_prior, relation_prior=relation_prior)
    (entity0, head0, tail0), (entity, head, tail) = plain.scores(x), linker.scores(x)
    assert entity.shape == (2, 2, 7, 7) and head.shape == tail.shape == (2, 3, 7, 7)
    assert torch.allclose(entity - entity0, torch.full_like(entity, entity_prior), atol=1e-4)
    assert torch.allclose(head - head0, torch.full_like(head, relation_prior), atol=1e-4)
    assert torch.allclose(tail - tail0, torch.full_like(tail, relation_prior), atol=1e-4)


def test_v2_with_zero_priors_builds_v1s_weights():
    v1 = _fresh(GP).get_pipe("triple_extractor").model.get_ref("output_layer")
    v2 = _fresh(GP2, entity_prior=0.0, relation_prior=0.0).get_pipe("triple_extractor").model.get_ref("output_layer")
    p1 = v1.layers[0].shims[0]._model.state_dict()
    p2 = v2.layers[0].shims[0]._model.state_dict()
    assert p1.keys() == p2.keys()
    assert all(torch.equal(p1[k], p2[k]) for k in p1)


@pytest.mark.parametrize("bad", [float("nan"), math.inf])
def test_bad_prior_is_refused_with_a_clear_error(bad):
    tok2vec = spacy.util.registry.resolve({"t": DGCNN})["t"]
    with pytest.raises(ValueError, match="relation_prior must be a finite number"):
        build_global_pointer_v2(tok2vec, relation_prior=bad)
    with pytest.raises(Exception, match="entity_prior"):  # a config value that is no number
        spacy.blank("en").add_pipe("triple_extractor", config={"model": {"@architectures": GP2, "tok2vec": DGCNN, "entity_prior": "low"}})


def test_link_score_reaches_the_module_and_survives_a_round_trip(tmp_path):
    nlp = _fresh(GP2, link_score="mean")
    assert gp_linker(nlp).link_score == "mean"
    assert gp_linker(_fresh(GP2)).link_score == "min"  # the default: GPLinker's
    nlp.to_disk(tmp_path / "gp")
    assert gp_linker(spacy.load(tmp_path / "gp")).link_score == "mean"


def test_bad_link_score_is_refused_with_a_clear_error():
    with pytest.raises(ValueError, match=r"link_score must be one of \['min', 'mean', 'max'\]"):
        build_global_pointer_v2(None, link_score="average")


def test_window_sum_reduction_overfits_and_survives_a_round_trip(tmp_path):
    nlp, examples = train_head(GP2, DGCNN, model_args={"map_reduction": "window_sum"})
    assert nlp.evaluate(examples)["triples_f"] == 1.0
    nlp.to_disk(tmp_path / "gp")
    loaded = spacy.load(tmp_path / "gp")
    assert loaded.get_pipe("triple_extractor").model.get_ref("output_layer").attrs["map_reduction"] == "window_sum"
    assert_same_triples(list(loaded.pipe(TEXTS)), list(nlp.pipe(TEXTS)))


def test_window_sum_gives_each_relation_map_r_times_the_mean_gradient():
    # the slow start on WebNLG (216 relations): under "mean" each relation map's gradient is divided
    # by the relation count; "window_sum" (GPLinker) keeps it whatever the count
    nlp = _fresh(GP2)
    pipe = nlp.get_pipe("triple_extractor")
    examples = make_examples(nlp)
    outputs, _ = pipe.model.begin_update(([eg.predicted for eg in examples], None))  # None: training outputs
    attrs = pipe.model.get_ref("output_layer").attrs
    assert attrs["map_reduction"] == "mean"  # the default keeps every trained config's behaviour
    loss, d_mean = pipe.get_loss(examples, outputs)
    attrs["map_reduction"] = "window_sum"
    loss_sum, d_sum = pipe.get_loss(examples, outputs)
    n_relations = len(pipe.labels)
    assert n_relations >= 2 and d_sum.head.shape[1] == n_relations
    assert float(abs(d_mean.head).max()) > 0
    assert_close(d_sum.head, n_relations * d_mean.head, rtol=1e-5, atol=1e-9)
    assert_close(d_sum.tail, n_relations * d_mean.tail, rtol=1e-5, atol=1e-9)
    assert_close(d_sum.entity, 2 * d_mean.entity, rtol=1e-5, atol=1e-9)  # subject and object maps
    assert loss_sum > loss


def test_bad_map_reduction_is_refused_with_a_clear_error():
    with pytest.raises(ValueError, match=r"map_reduction must be one of \['mean', 'window_sum'\], got 'sum'"):
        build_global_pointer_v2(None, map_reduction="sum")


def test_entity_weight_scales_the_entity_maps_gradient_and_nothing_else(tmp_path):
    # WebNLG models lose their triples at the entities (docs/webnlg.md): entity_weight leans the
    # loss towards them without touching the relation pointers' gradient
    nlp = _fresh(GP2)
    pipe = nlp.get_pipe("triple_extractor")
    examples = make_examples(nlp)
    outputs, _ = pipe.model.begin_update(([eg.predicted for eg in examples], None))
    attrs = pipe.model.get_ref("output_layer").attrs
    assert attrs["entity_weight"] == 1.0  # the default: every trained config's loss
    loss, d_plain = pipe.get_loss(examples, outputs)
    attrs["entity_weight"] = 3.0
    loss3, d3 = pipe.get_loss(examples, outputs)
    assert float(abs(d_plain.entity).max()) > 0
    assert_close(d3.entity, 3.0 * d_plain.entity, rtol=1e-5, atol=1e-9)
    assert_close(d3.head, d_plain.head, rtol=0, atol=0)
    assert_close(d3.tail, d_plain.tail, rtol=0, atol=0)
    assert loss3 > loss
    weighted = _fresh(GP2, entity_weight=3.0)
    weighted.to_disk(tmp_path / "gp")
    assert spacy.load(tmp_path / "gp").get_pipe("triple_extractor").model.get_ref("output_layer").attrs["entity_weight"] == 3.0


def test_entity_weighted_head_still_overfits():
    nlp, examples = train_head(GP2, DGCNN, model_args={"entity_weight": 3.0})
    assert nlp.evaluate(examples)["triples_f"] == 1.0


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), "2"])
def test_bad_entity_weight_is_refused_with_a_clear_error(bad):
    with pytest.raises(ValueError, match="entity_weight must be a number above 0"):
        build_global_pointer_v2(None, entity_weight=bad)
