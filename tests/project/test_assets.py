"""project.yml assets: every dataset a workflow reads is declared (pinned source + md5), and the data
steps take the local copy, else the downloaded assets, else fail with a message saying what to do."""
import re
import shutil
import subprocess
import sys

import pytest

from ..util import ROOT


weasel_config = pytest.importorskip("weasel.util.config")

sys.path.insert(0, str(ROOT / "scripts"))
from locate_assets import locate  # noqa: E402  (a project step, not part of the package)
SHARED = (ROOT / "../shared/data").resolve()
DATA_COMMANDS = {"all": "data", "cpu": "data-cpu", "zh": "data-zh"}


def _project(tmp_path):
    # loading a project creates its directories: load a copy, never the checkout
    folder = tmp_path / "loaded"
    folder.mkdir()
    shutil.copy(ROOT / "project.yml", folder)
    return weasel_config.load_project_config(folder)


def _files(config, command):
    (cmd,) = [c for c in config["commands"] if c["name"] == command]
    return [out[len("raw/"):] for out in cmd["outputs"]]


def test_every_workflow_file_is_a_pinned_asset_with_a_checksum(tmp_path):
    config = _project(tmp_path)
    assets = {a["dest"]: a for a in config["assets"]}
    for workflow, command in DATA_COMMANDS.items():
        assert config["workflows"][workflow][0] == command  # the first step locates the data
        for name in _files(config, command):
            asset = assets[f"assets/{name}"]
            assert re.fullmatch(r"https://raw\.githubusercontent\.com/[\w.-]+/[\w.-]+/[0-9a-f]{40}/.+", asset["url"])
            assert re.fullmatch(r"[0-9a-f]{32}", asset["checksum"]) and "github.com/" in asset["description"]
    # the later steps read raw/, never the data folder directly
    for cmd in config["commands"]:
        if cmd["name"] not in DATA_COMMANDS.values():
            assert not any("shared/data" in line for line in cmd["script"] + cmd.get("deps", []))


@pytest.mark.skipif(not SHARED.is_dir(), reason="no local copy of the datasets (../shared/data)")
def test_checksums_match_the_local_copy_so_assets_skip_the_download(tmp_path):
    from weasel.cli.assets import project_assets
    from weasel.util import get_checksum

    config = _project(tmp_path)
    for asset in config["assets"]:
        local = SHARED / asset["dest"][len("assets/"):]
        assert get_checksum(local) == asset["checksum"], asset["dest"]
    # with the files in place, `spacy project assets` verifies them and downloads nothing
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "project.yml", project)
    shutil.copytree(ROOT / "scripts", project / "scripts")
    for asset in config["assets"]:
        dest = project / asset["dest"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SHARED / asset["dest"][len("assets/"):], dest)
    project_assets(project)


def test_locate_prefers_the_local_copy_then_the_assets(tmp_path):
    local, assets, dest = tmp_path / "local", tmp_path / "assets", tmp_path / "raw"
    (local / "a").mkdir(parents=True)
    (assets / "a").mkdir(parents=True)
    (local / "a" / "x.json").write_text("local")
    (assets / "a" / "x.json").write_text("asset")
    (assets / "a" / "y.json").write_text("asset y")
    lines = locate(local, assets, dest, ["a/x.json", "a/y.json"])
    assert (dest / "a" / "x.json").read_text() == "local" and (dest / "a" / "y.json").read_text() == "asset y"
    assert lines == [f"a/x.json: from {local / 'a' / 'x.json'}", f"a/y.json: from {assets / 'a' / 'y.json'}"]
    with pytest.raises(FileNotFoundError, match=r"a/z\.json, b\.json not found .*spacy project assets.*--vars\.data_dir"):
        locate(local, assets, dest, ["a/x.json", "a/z.json", "b.json"])


def test_workflow_without_data_fails_at_once_with_a_clear_message(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "project.yml", project)
    shutil.copytree(ROOT / "scripts", project / "scripts")
    run = subprocess.run(
        [sys.executable, "-m", "weasel", "run", "data-cpu", str(project), "--vars.data_dir", "nowhere"],
        capture_output=True, text=True, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
    )
    assert run.returncode != 0
    err = run.stderr + run.stdout
    assert "conll04/unified_format/train.CoNLL04.json" in err and "'nowhere' (vars.data_dir)" in err
    assert "spacy project assets" in err


def test_data_step_then_convert_on_the_bundled_sample(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "project.yml", project)
    shutil.copytree(ROOT / "scripts", project / "scripts")
    shutil.copytree(ROOT / "data" / "sample", project / "sample")
    overrides = ["--vars.data_dir", "nowhere", "--vars.assets_dir", "sample", "--vars.cpu_dataset", "sample",
                 "--vars.cpu_train_file", "train.json", "--vars.cpu_dev_file", "dev.json", "--vars.cpu_test_file", "dev.json"]
    for command in ("data-cpu", "convert-cpu"):
        run = subprocess.run([sys.executable, "-m", "weasel", "run", command, str(project), *overrides],
                             capture_output=True, text=True, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
        assert run.returncode == 0, run.stderr + run.stdout
    assert (project / "raw" / "train.json").read_bytes() == (ROOT / "data" / "sample" / "train.json").read_bytes()
    assert (project / "corpus" / "sample" / "train.spacy").is_file()
