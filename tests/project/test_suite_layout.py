"""The suite's layout: test modules are filed by subject (a folder each) and share helpers only
through tests/util.py and conftest fixtures, never by importing another test module."""
import ast

from ..util import ROOT

TESTS = ROOT / "tests"


def imported_test_modules(source: str) -> list:
    """The test modules (``test_*``) that ``source`` imports, at any depth."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            if any(part.startswith("test_") for part in node.module.split(".")):
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if any(p.startswith("test_") for p in a.name.split("."))]
    return found


def test_the_rule_finds_an_import_of_another_test_module():
    assert imported_test_modules("from ..test_pointer import DGCNN\nimport os\n") == ["test_pointer"]
    assert imported_test_modules("def f():\n    from tests.heads.test_pointer import x\n") == ["tests.heads.test_pointer"]
    assert imported_test_modules("from ..util import DGCNN\n") == []


def test_no_test_module_imports_another():
    offenders = {p.relative_to(TESTS).as_posix(): imported_test_modules(p.read_text(encoding="utf8"))
                 for p in sorted(TESTS.rglob("test_*.py"))}
    assert {k: v for k, v in offenders.items() if v} == {}, "move shared helpers to tests/util.py"


def test_every_test_module_is_in_a_subject_folder():
    assert sorted(p.name for p in TESTS.glob("test_*.py")) == []
    for folder in {p.parent for p in TESTS.rglob("test_*.py")}:
        assert (folder / "__init__.py").is_file(), folder
        assert ast.get_docstring(ast.parse((folder / "__init__.py").read_text(encoding="utf8"))), \
            f"{folder.name}/__init__.py should say what the folder tests"


def test_no_source_file_is_ignored_by_git():
    """A pattern such as ``training/`` (meant for the training output folder) once hid
    ``tests/training/__init__.py`` and ``spacy_triples/training/__init__.py`` from commits."""
    import shutil
    import subprocess

    import pytest

    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    files = [p.relative_to(ROOT).as_posix() for folder in ("spacy_triples", "tests", "configs", "scripts", "docs")
             for p in (ROOT / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts
             and p.suffix in (".py", ".cfg", ".sh", ".md", ".json", ".txt", ".yml", ".spacy")]
    ignored = subprocess.run(["git", "check-ignore", "--no-index", "--stdin"], input="\n".join(files), cwd=ROOT,
                             capture_output=True, text=True).stdout.split()
    assert ignored == []
