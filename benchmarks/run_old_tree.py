"""Run spaCy's CLI against the package code of another checkout (e.g. a git worktree of an older commit):

    python benchmarks/run_old_tree.py /tmp/old_tree train configs/x.cfg ...

The editable install's import hook and the installed entry points (which name this checkout's module
paths) would otherwise win over PYTHONPATH; both are bypassed, so the old tree's own registrations
are used. Used for the DuIE regression check (docs/chinese.md).
"""
import sys
import importlib.metadata as md
_orig = md.entry_points
def _filtered(*a, **k):
    eps = _orig(*a, **k)
    try:
        return md.EntryPoints([e for e in eps if not e.value.startswith("spacy_triples")]) if isinstance(eps, md.EntryPoints) else eps
    except Exception:
        return eps
md.entry_points = _filtered
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in type(f).__name__.lower() and "editable" not in getattr(f, "__module__", "").lower()]
tree = sys.argv.pop(1)
import catalogue
_eps = catalogue.AVAILABLE_ENTRY_POINTS
if isinstance(_eps, dict):
    catalogue.AVAILABLE_ENTRY_POINTS = type(_eps)({g: [e for e in v if not e.value.startswith("spacy_triples")] for g, v in _eps.items()}) if not hasattr(_eps, "select") or isinstance(_eps, dict) else _eps
elif hasattr(_eps, "select"):
    catalogue.AVAILABLE_ENTRY_POINTS = md.EntryPoints([e for e in _eps if not e.value.startswith("spacy_triples")])

sys.path.insert(0, tree)
import spacy_triples  # registers the old code's names
assert spacy_triples.__file__.startswith(tree), spacy_triples.__file__
print("using", spacy_triples.__file__, flush=True)
from spacy.cli import setup_cli  # noqa: E402
sys.argv = ["spacy"] + sys.argv[1:]
setup_cli()
