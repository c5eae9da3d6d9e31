import pytest


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", default=False, help="also run slow tests")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory):
    """The overfit CNN pipeline of tests/util.py, trained once and saved for the CLI tests."""
    import spacy

    from .util import make_examples, train

    nlp = spacy.blank("en")
    nlp.add_pipe("triple_extractor")
    train(nlp, make_examples(nlp), n_iter=150)
    path = tmp_path_factory.mktemp("trained") / "model"
    nlp.to_disk(path)
    return path


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory):
    """A tiny random BERT saved to a temporary folder (tests/util.py: build_tiny_bert)."""
    pytest.importorskip("spacy_transformers")
    from .util import build_tiny_bert

    return build_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))
