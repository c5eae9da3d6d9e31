"""Every entry point in pyproject.toml resolves to a registered, callable object."""
import sys
from pathlib import Path

import pytest
import spacy
from spacy.util import registry

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

PYPROJECT = Path(__file__).parent.parent / "pyproject.toml"
REGISTRIES = {
    "spacy_factories": "factories",
    "spacy_architectures": "architectures",
    "spacy_scorers": "scorers",
    "spacy_misc": "misc",
    "spacy_tokenizers": "tokenizers",
}


def _entry_points():
    data = tomllib.loads(PYPROJECT.read_text())
    for group, entries in data["project"]["entry-points"].items():
        for name, target in entries.items():
            yield group, name, target


@pytest.mark.parametrize("group,name,target", list(_entry_points()))
def test_entry_point(group, name, target):
    assert group in REGISTRIES, f"unknown entry point group {group}"
    func = getattr(registry, REGISTRIES[group]).get(name)
    module, attr = target.split(":")
    imported = getattr(__import__(module, fromlist=[attr]), attr)
    assert func is imported
    if group != "spacy_factories":
        assert name.startswith("spacy_triples.") and name.rsplit(".", 1)[1].startswith("v")


def test_every_registered_name_has_an_entry_point():
    import spacy_triples  # noqa: F401

    declared = {name for _, name, _ in _entry_points()}
    for reg_name in ("architectures", "scorers", "misc", "tokenizers"):
        for name in getattr(registry, reg_name).get_all():
            if name.startswith("spacy_triples."):
                assert name in declared, f"{name} has no entry point in pyproject.toml"
    assert "triple_extractor" in declared
    assert spacy.blank("en").add_pipe("triple_extractor") is not None


def test_configs_resolve():
    for path in sorted((PYPROJECT.parent / "configs").glob("*.cfg")):
        config = spacy.util.load_config(path)
        nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
        assert "triple_extractor" in nlp.pipe_names, path
