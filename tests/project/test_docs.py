"""The documentation: the README stays a front door, and the MkDocs site in docs/ builds strictly.

``mkdocs build --strict`` fails on a broken link or anchor, a page missing from the nav and a CLI
command whose ``--help`` fails (docs/hooks/cli_help.py), so running it here makes CI check them.
mkdocs comes from the ``dev`` extra that scripts/install.sh installs: the test is never skipped.
"""
import re
import subprocess
import sys

import yaml
from ..util import ROOT

DOCS = ROOT / "docs"
COMMANDS = ["convert", "stats", "extract", "evaluate", "init-vectors", "export", "graph", "graph-query",
            "render", "tune-thresholds", "serve"]


def nav_pages(nav) -> list:
    pages = []
    for item in nav:
        if isinstance(item, str):
            pages.append(item)
        elif isinstance(item, dict):
            for value in item.values():
                pages.extend(nav_pages(value) if isinstance(value, list) else [value])
    return pages


def mkdocs_config() -> dict:
    # mkdocs.yml may hold python tags (none today); BaseLoader-free: a plain safe load is enough
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))


def test_mkdocs_build_strict(tmp_path):
    import mkdocs  # noqa: F401  (from the dev extra; an ImportError fails the test, it does not skip)

    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                           str(ROOT / "mkdocs.yml"), "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cli = (tmp_path / "site" / "cli.html").read_text(encoding="utf-8")
    for command in COMMANDS:  # each command's own --help was put in the page
        assert re.search(rf"usage: [^\n]*\b{re.escape(command)}\b", cli, re.I), command


def test_every_docs_page_is_in_the_nav():
    config = mkdocs_config()
    listed = set(nav_pages(config["nav"]))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md") if "hooks" not in p.parts}
    assert pages - listed == set(), "docs pages missing from mkdocs.yml's nav"
    assert listed - pages == set(), "nav entries without a page"
    assert config.get("strict") is True


def test_cli_page_has_a_help_marker_for_every_command():
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    marked = set(re.findall(r"<!--\s*cli-help:\s*([A-Za-z0-9_-]+)\s*-->", text))
    assert set(COMMANDS) <= marked


def test_readme_is_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; move the rest to docs/"


def test_readme_keeps_the_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "bash scripts/main.sh" in text and "bash scripts/test.sh" in text


def headline_rows() -> tuple:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Headline figures\n(.*?)(?=^## )", text, re.M | re.S)
    assert section, "README.md has no '## Headline figures' section"
    rows = [line for line in section.group(1).splitlines() if line.startswith("|")]
    header = [c.strip().lower() for c in rows[0].strip("|").split("|")]
    return header, [[c.strip() for c in row.strip("|").split("|")] for row in rows[2:]]


def test_every_headline_figure_names_its_command_and_results_file():
    header, rows = headline_rows()
    assert "command" in header and "results file" in header
    command, results = header.index("command"), header.index("results file")
    assert rows, "the headline table is empty"
    for row in rows:
        assert len(row) == len(header), row
        assert re.search(r"`(python|bash|\.venv/bin/python|spacy-triples) [^`]+`", row[command]), row
        for path in re.findall(r"`(benchmarks/results/[^`]+?\.json)`", row[results]) or [None]:
            assert path and (ROOT / path).is_file(), row
