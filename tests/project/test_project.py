"""The spacy project workflow (project.yml) on the bundled sample with a tiny config."""
import json
import shutil
import zipfile

import pytest
import spacy
from ..util import ROOT



@pytest.mark.slow
def test_cpu_workflow_then_package(tmp_path):
    weasel_run = pytest.importorskip("weasel.cli.run")
    pytest.importorskip("build")
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "project.yml", project / "project.yml")
    shutil.copytree(ROOT / "configs", project / "configs")
    shutil.copytree(ROOT / "scripts", project / "scripts")  # the data step runs scripts/locate_assets.py
    shutil.copytree(ROOT / "data" / "sample", project / "sample")
    overrides = {
        "vars.data_dir": "sample", "vars.cpu_dataset": "sample", "vars.cpu_config": "test/tiny",
        "vars.cpu_train_file": "train.json", "vars.cpu_dev_file": "dev.json", "vars.cpu_test_file": "dev.json",
        "vars.cpu_max_steps": 60, "vars.eval_frequency": 30,
    }
    weasel_run.project_run(project, "cpu", overrides=overrides)
    metrics = json.loads((project / "metrics" / "sample-test" / "tiny.json").read_text())
    assert metrics["n_docs"] == 100 and set(metrics["triples_per_overlap"]) >= {"normal"}
    model = project / "training" / "sample-test" / "tiny" / "model-best"
    assert spacy.load(model).pipe_names == ["tok2vec", "triple_extractor"]
    # a second run with nothing changed skips every command; editing the config re-runs training
    lock = (project / "project.lock").read_text()
    weasel_run.project_run(project, "cpu", overrides=overrides)
    assert (project / "project.lock").read_text() == lock
    # package the trained model as a wheel that depends on spacy-triples
    weasel_run.project_run(project, "package", overrides={
        **overrides, "vars.dataset": "sample", "vars.config": "test/tiny"})
    wheels = list((project / "packages").glob("**/*.whl"))
    assert len(wheels) == 1
    with zipfile.ZipFile(wheels[0]) as zf:
        metadata = next(zf.read(n).decode() for n in zf.namelist() if n.endswith("METADATA"))
    assert "Requires-Dist: spacy-triples" in metadata
