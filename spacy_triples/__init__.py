"""spacy-triples: joint relational-triple extraction for spaCy."""
from . import registry  # noqa: F401  (registers architectures, scorers, misc)
from .pipe import TripleExtractor, make_triple_extractor
from .training.precision import set_precision
from .render import render
from .triples import Triple, install_extensions

__version__ = "0.1.0"

install_extensions()

__all__ = ["Triple", "TripleExtractor", "install_extensions", "make_triple_extractor", "render", "set_precision", "__version__"]
