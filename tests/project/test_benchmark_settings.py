"""The benchmarks' ``--set KEY=VALUE`` parsing (benchmarks/compare_architectures.parse_settings),
which every benchmark script uses to override a config."""
import sys

import pytest

from ..util import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import compare_architectures as ca  # noqa: E402  (stdlib only at import)


def test_values_are_read_as_json():
    overrides = ca.parse_settings([
        "training.optimizer.learn_rate.initial_rate=0.0002", "training.batcher.size=8",
        "components.triple_extractor.typed_entities=false", "initialize.after_init=null",
        'initialize.after_init.patterns=["word_embeddings", "position"]',
    ])
    assert overrides == {
        "training.optimizer.learn_rate.initial_rate": 0.0002, "training.batcher.size": 8,
        "components.triple_extractor.typed_entities": False, "initialize.after_init": None,
        "initialize.after_init.patterns": ["word_embeddings", "position"],
    }


def test_non_json_value_stays_a_string_and_equals_signs_in_values_survive():
    overrides = ca.parse_settings(["components.transformer.model.name=/models/a=b", "x.y="])
    assert overrides == {"components.transformer.model.name": "/models/a=b", "x.y": ""}


@pytest.mark.parametrize("bad", ["training.batcher.size", "=8"])
def test_setting_without_key_or_equals_sign_is_an_error(bad):
    with pytest.raises(ValueError, match="KEY=VALUE"):
        ca.parse_settings([bad])


def test_results_payload_keeps_earlier_commands_and_hand_added_keys():
    first = ca.results_payload({}, [{"seed": 0}], "cmd A", "m", [{"mean": 1}])
    assert first["earlier_commands"] == [] and first["command"] == "cmd A"
    first["more_seeds"] = {"command": "cmd B", "seed_summaries": [{"mean": 2}]}
    second = ca.results_payload(first, [{"seed": 0}, {"seed": 1}], "cmd C", "m2", [{"mean": 3}])
    assert second["command"] == "cmd C" and second["machine"] == "m2"
    assert second["seed_summaries"] == [{"mean": 3}]
    assert second["results"] == [{"seed": 0}, {"seed": 1}]
    assert second["earlier_commands"] == [{"command": "cmd A", "seed_summaries": [{"mean": 1}]}]
    assert second["more_seeds"] == {"command": "cmd B", "seed_summaries": [{"mean": 2}]}
    third = ca.results_payload(second, [], "cmd D", "m", [])
    assert [c["command"] for c in third["earlier_commands"]] == ["cmd A", "cmd C"]


def test_git_commit_names_the_checkout():
    commit = ca.git_commit()
    assert commit is None or (7 <= len(commit) <= 12 and all(c in "0123456789abcdef" for c in commit))


def test_results_of_two_runs_side_by_side_are_both_kept(tmp_path):
    # two compare_architectures commands that write one results file: each result is added to the
    # file as it is when the result arrives, so neither run's write drops the other's
    import multiprocessing

    out = tmp_path / "architectures.json"
    ca.add_result(out, {"config": "a", "dataset": "d", "seed": 0}, "cmd A", "m", [])
    context = multiprocessing.get_context("spawn")
    jobs = [context.Process(target=_add_many, args=(out, name)) for name in ("x", "y")]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join(60)
        assert job.exitcode == 0
    import json

    payload = json.loads(out.read_text())
    names = sorted((r["config"], r["seed"]) for r in payload["results"])
    assert names == [("a", 0)] + [(n, s) for n in ("x", "y") for s in range(20)]
    # each earlier command once (the two took turns on top), never the one on top
    earlier = [c["command"] for c in payload["earlier_commands"]]
    assert earlier[0] == "cmd A" and len(earlier) == len(set(earlier)) == 2
    assert {payload["command"], earlier[1]} == {"cmd x", "cmd y"}
    # a rerun of the same settings replaces its result
    ca.add_result(out, {"config": "a", "dataset": "d", "seed": 0, "f": 1}, "cmd A", "m", [])
    assert [r for r in json.loads(out.read_text())["results"] if r["config"] == "a"] == [
        {"config": "a", "dataset": "d", "seed": 0, "f": 1}]
    # the same settings at another commit (the config file changed under the same command) are
    # added beside it; a rerun at that commit replaces only its own
    ca.add_result(out, {"config": "a", "dataset": "d", "seed": 0, "f": 2, "commit": "abc1234"}, "cmd A", "m", [])
    ca.add_result(out, {"config": "a", "dataset": "d", "seed": 0, "f": 3, "commit": "abc1234"}, "cmd A", "m", [])
    assert [r.get("f") for r in json.loads(out.read_text())["results"] if r["config"] == "a"] == [1, 3]


def _add_many(out, name):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import compare_architectures

    for seed in range(20):
        compare_architectures.add_result(out, {"config": name, "dataset": "d", "seed": seed}, f"cmd {name}", "m", [])


def test_folder_tag_names_each_setting_and_stays_a_valid_file_name():
    assert ca.folder_tag(["training.eval_frequency=1000", 'components.x.link_score="mean"']) == "eval_frequency_1000-link_score_mean"
    section = 'components.triple_extractor.model.tok2vec={"@architectures":"spacy_triples.TokenFeatures.v1","width":%d,' \
              '"tok2vec":{"@architectures":"spacy-transformers.TransformerListener.v1","upstream":"transformer"}}'
    a, b = ca.folder_tag([section % 32]), ca.folder_tag([section % 64])
    assert a != b and len(a) <= 120 and len(b) <= 120
    assert a.startswith("tok2vec_architectures_spacy_triples.TokenFeatures.v1")


def test_a_benchmark_saves_the_averaged_weights_it_scored_on_dev(tmp_path):
    # with use_averages, spaCy's loop scores dev inside nlp.use_params(optimizer.averages), so the
    # saved model-best must hold those averages too (as spacy train saves it), not the raw weights
    import spacy
    from thinc.api import Adam

    from ..util import make_examples

    nlp = spacy.blank("en")
    nlp.add_pipe("triple_extractor")
    examples = make_examples(nlp)
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.01, use_averages=True)
    for _ in range(5):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    ca.save_pipeline(nlp, tmp_path / "best", optimizer)
    saved = spacy.load(tmp_path / "best").get_pipe("triple_extractor").model
    model = nlp.get_pipe("triple_extractor").model
    raw = [n.get_param(p).copy() for n in model.walk() for p in n.param_names if n.has_param(p)]
    with nlp.use_params(optimizer.averages):
        averaged = [n.get_param(p).copy() for n in model.walk() for p in n.param_names if n.has_param(p)]
    loaded = [n.get_param(p) for n in saved.walk() for p in n.param_names if n.has_param(p)]
    assert len(loaded) == len(averaged) > 0
    # exact: the file holds the very arrays that were in use (a copy, no arithmetic)
    assert all((a == b).all() for a, b in zip(loaded, averaged))
    assert any((a != b).any() for a, b in zip(loaded, raw))  # the averages are not the raw weights


def test_a_config_is_a_name_in_configs_or_a_cfg_path():
    assert ca.config_path("gp_transformer") == ROOT / "configs" / "gp_transformer.cfg"
    experiment = "benchmarks/configs/gp_transformer_gazetteer.cfg"
    assert ca.config_path(experiment) == ROOT / experiment and ca.config_path(experiment).is_file()
    assert ca.config_path(str(ROOT / experiment)) == ROOT / experiment


def test_the_gazetteer_experiment_is_the_recommended_config_with_a_ruler_the_head_reads():
    from spacy import util

    config = util.load_config(ca.config_path("benchmarks/configs/gp_transformer_gazetteer.cfg"), interpolate=False)
    base = util.load_config(ca.config_path("gp_transformer"), interpolate=False)
    assert config["nlp"]["pipeline"] == ["entity_ruler"] + base["nlp"]["pipeline"]
    assert config["training"]["annotating_components"] == ["entity_ruler"]  # the ruler marks training docs too
    # model selection by the triples alone: the ruler's doc.ents scores (0 on gold without ents) stay out
    weights = config["training"]["score_weights"]
    assert weights["triples_f"] == 1.0 and all(weights[k] is None for k in ("ents_f", "ents_p", "ents_r"))
    features = config["components"]["triple_extractor"]["model"]["tok2vec"]
    assert features["attrs"] == ["SHAPE", "ORTH", "ENT_IOB"] and len(features["rows"]) == 3
    patterns = config["initialize"]["components"]["entity_ruler"]["patterns"]
    assert patterns == {"@readers": "spacy_triples.triple_entity_patterns.v1", "path": "${paths.train}"}
    # everything else as in configs/gp_transformer.cfg
    for section in ("transformer",):
        assert config["components"][section] == base["components"][section]
    head = dict(config["components"]["triple_extractor"]["model"]); head.pop("tok2vec")
    base_head = dict(base["components"]["triple_extractor"]["model"]); base_head.pop("tok2vec")
    assert head == base_head and config["training"]["optimizer"] == base["training"]["optimizer"]


def test_the_harness_names_score_weights_no_triple_extractor_writes():
    # an entity_ruler's ents_f (0 on gold without ents) entering the selection score halved the
    # gazetteer runs' printed dev score (stop 54): the harness now names such keys
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler")
    nlp.add_pipe("triple_extractor")
    weights = {"triples_f": 0.5, "triples_p": 0.0, "ents_f": 0.5, "ents_p": 0.0, "ents_r": None}
    assert ca.foreign_score_weights(nlp, weights) == ["ents_f"]
    assert ca.foreign_score_weights(nlp, {"triples_f": 1.0, "ents_f": None}) == []
    alone = spacy.blank("en")
    alone.add_pipe("entity_ruler")  # no triple extractor: every weighted key is foreign
    assert ca.foreign_score_weights(alone, {"triples_f": 1.0}) == ["triples_f"]


def test_threshold_offsets_takes_negative_offsets():
    # argparse alone read "-1:0" as an unknown option, so an entity cut could not be raised
    import threshold_offsets

    args = threshold_offsets.parse_args(["model", "--offsets", "0:0", "-1:0", "0:-1", "-0.5:-2", "--threads", "1"])
    assert args.offsets == [(0.0, 0.0), (-1.0, 0.0), (0.0, -1.0), (-0.5, -2.0)]
    assert args.models == ["model"] and args.threads == 1
    assert threshold_offsets.parse_args(["model"]).offsets[1] == (2.0, 0.0)  # the default, unchanged
    with pytest.raises(SystemExit):
        threshold_offsets.parse_args(["model", "--offsets", "-1"])  # not ENTITY:LINK


def test_link_score_summary_averages_each_score_over_the_models():
    import link_score

    def run(f):  # one model's record of one value: every score f, the tuned dev f + 1
        scores = {k: f for k in ("triples_strict_f", "triples_last_word_f", "triples_text_f")}
        return {"0.5": {"at_threshold": {"dev": scores, "test": scores},
                        "global_threshold_tuned_on_dev": {"dev_f_after": f + 1, "test": scores}}}

    summary = link_score.summarise([run(60.0), run(70.005)], [0.5])
    assert set(summary) == {"0.5"} and set(summary["0.5"]) == set(link_score.SUMMARY)
    assert summary["0.5"]["dev_strict_f_tuned_global"] == 66.0
    assert all(v == 65.0 for k, v in summary["0.5"].items() if k != "dev_strict_f_tuned_global")
    with pytest.raises(KeyError):
        link_score.summarise([run(60.0)], [1])  # a value the runs did not score
