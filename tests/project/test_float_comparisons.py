"""The test suite's own rule for floats (tests/util.py): torch's kernels differ between CPUs in the
last bits, so no test compares floats with a default tolerance. This scans every test module for
allclose / isclose / assert_allclose / assert_close calls that do not name ``atol`` (numpy's
default is 1e-8, below float32's resolution) and names each one with its file and line."""
import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent.parent
CHECKED = {"allclose", "isclose", "assert_allclose", "assert_close"}


def default_tolerance_calls(source: str, filename: str = "<test>"):
    """(line, call name) of every checked call without an ``atol`` keyword. tests/util.assert_close
    (imported as ``assert_close``) has the documented tolerances and passes."""
    tree = ast.parse(source, filename)
    local = set()  # names imported from tests/util.py
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("util", "tests.util"):
            local.update(a.asname or a.name for a in node.names)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        if name not in CHECKED:
            continue
        if isinstance(func, ast.Name) and name in local:
            continue  # the project's helper: documented tolerances
        if not any(k.arg == "atol" for k in node.keywords):
            found.append((node.lineno, name))
    return found


def test_the_check_finds_a_default_tolerance():
    source = "import numpy, torch\nnumpy.allclose(a, b)\ntorch.allclose(a, b, atol=1e-5)\nnumpy.testing.assert_allclose(a, b)\n"
    assert default_tolerance_calls(source) == [(2, "allclose"), (4, "assert_allclose")]
    helper = "from .util import assert_close\nassert_close(a, b)\n"
    assert default_tolerance_calls(helper) == []


@pytest.mark.parametrize("path", sorted(TESTS.rglob("test_*.py")), ids=lambda p: p.relative_to(TESTS).as_posix())
def test_no_float_comparison_without_a_tolerance(path):
    found = default_tolerance_calls(path.read_text(encoding="utf8"), str(path))
    assert not found, (f"{path.name}: float comparisons with a default tolerance at lines "
                       f"{[line for line, _ in found]}: give atol (and rtol), or use tests/util.py's assert_close")
