"""Every entry point in pyproject.toml resolves to a registered, callable object."""
import sys

import pytest
import spacy
from spacy.util import registry
from ..util import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

PYPROJECT = ROOT / "pyproject.toml"
REGISTRIES = {
    "spacy_factories": "factories",
    "spacy_architectures": "architectures",
    "spacy_scorers": "scorers",
    "spacy_misc": "misc",
    "spacy_tokenizers": "tokenizers",
    "spacy_callbacks": "callbacks",
    "spacy_augmenters": "augmenters",
    "spacy_batchers": "batchers",
    "spacy_readers": "readers",
    "thinc_optimizers": "optimizers",
}


def _entry_points():
    data = tomllib.loads(PYPROJECT.read_text())
    for group, entries in data["project"]["entry-points"].items():
        for name, target in entries.items():
            yield group, name, target


@pytest.mark.parametrize("group,name,target", list(_entry_points()))
def test_entry_point(group, name, target):
    assert group in REGISTRIES, f"unknown entry point group {group}"
    if group == "spacy_factories":
        spacy.blank("en").add_pipe(name)  # spaCy loads factory entry points on demand
    func = getattr(registry, REGISTRIES[group]).get(name)
    module, attr = target.split(":")
    imported = getattr(__import__(module, fromlist=[attr]), attr)
    assert func is imported
    if group != "spacy_factories":
        assert name.startswith("spacy_triples.") and name.rsplit(".", 1)[1].startswith("v")


def test_entry_points_work_without_importing_the_package():
    """In a fresh interpreter that never imports spacy_triples, spaCy finds every name (this test
    process has imported the package already, which registers the names by decorator)."""
    import subprocess

    names = [(REGISTRIES[group], name) for group, name, _ in _entry_points() if group != "spacy_factories"]
    script = (
        "import sys, spacy\n"
        "from spacy.util import registry\n"
        "assert 'spacy_triples' not in sys.modules\n"
        f"for reg, name in {names!r}:\n"
        "    assert callable(getattr(registry, reg).get(name)), name\n"
        "nlp = spacy.blank('en')\n"
        "nlp.add_pipe('triple_extractor')\n"
        "print('ok', len(nlp.pipe_names))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=str(PYPROJECT.parent.parent))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok 1"


def test_every_registered_name_has_an_entry_point():
    import spacy_triples  # noqa: F401  (registers every name by decorator)

    declared = {name for _, name, _ in _entry_points()}
    for reg_name in ("architectures", "scorers", "misc", "tokenizers", "callbacks", "augmenters", "optimizers"):
        for name in getattr(registry, reg_name).get_all():
            if name.startswith("spacy_triples."):
                assert name in declared, f"{name} has no entry point in pyproject.toml"
    assert "triple_extractor" in declared


def test_configs_resolve():
    for path in sorted((PYPROJECT.parent / "configs").glob("*.cfg")):
        config = spacy.util.load_config(path)
        nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
        assert "triple_extractor" in nlp.pipe_names, path
