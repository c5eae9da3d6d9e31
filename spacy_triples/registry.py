"""Every registered name of the package. Each one is also an entry point in pyproject.toml."""
from spacy.util import registry

from .models.gplinker import build_global_pointer
from .scorer import make_triple_scorer
from .util import package_folder

registry.architectures.register("spacy_triples.GlobalPointer.v1", func=build_global_pointer)
registry.scorers.register("spacy_triples.triple_scorer.v1", func=make_triple_scorer)
registry.misc.register("spacy_triples.package_folder.v1", func=package_folder)
