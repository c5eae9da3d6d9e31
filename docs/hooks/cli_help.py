"""MkDocs hook: the CLI pages show each command's own ``--help``, never a hand copy.

A marker line ``<!-- cli-help: COMMAND -->`` in a page is replaced, at build time, by the output of
``python -m spacy_triples COMMAND --help`` (``sys.executable``, so the interpreter that runs
mkdocs) in a ``text`` code block; ``<!-- cli-help -->`` (no command) shows the top-level help.
The help is run with colours and rich boxes off (``TERM=dumb``, ``NO_COLOR=1``, ``COLUMNS=100``)
and any escape sequence or box-drawing character left is stripped, so argparse and typer output
both read as plain text. The build fails (``PluginError``) when a command's ``--help`` exits
non-zero or prints nothing, when the top-level help lists no command, or when a command it lists
has no marker in any page (so a new command cannot go undocumented).

It also turns a link to a repository file outside ``docs/`` (``[project.yml](project.yml)`` in the
section ``spacy project document`` generates) into its plain text: the site holds only ``docs/``.
A link to a file that exists in neither place is left alone, so the strict build still fails on it.
"""
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mkdocs.exceptions import PluginError

# a marker is a line of its own (so one quoted in running text or code is left alone)
MARKER = re.compile(r"^[ \t]*<!--\s*cli-help(?::\s*([A-Za-z0-9_-]+))?\s*-->[ \t]*$", re.M)
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")
# box drawing (U+2500-U+257F) and block elements (U+2580-U+259F) that rich panels use
BOX = re.compile(r"[\u2500-\u259f]")
ENV = {"TERM": "dumb", "NO_COLOR": "1", "COLUMNS": "100", "TERMINAL_WIDTH": "100",
       "_TYPER_FORCE_DISABLE_TERMINAL": "1", "PYTHONIOENCODING": "utf-8"}

_cache = {}
_seen = set()
_root = {"cwd": None}


def on_pre_build(config):
    """A fresh run per build (``mkdocs serve`` rebuilds in one process), from the repository root."""
    _cache.clear()
    _seen.clear()
    _root["cwd"] = str(Path(config["config_file_path"]).parent)


def run_help(command=None) -> str:
    """The plain-text ``--help`` of ``command`` (None: the top level); fails the build on error."""
    if command in _cache:
        return _cache[command]
    argv = [sys.executable, "-m", "spacy_triples"] + ([command] if command else []) + ["--help"]
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env.update(ENV)
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300,
                              cwd=_root["cwd"])
    except (OSError, subprocess.TimeoutExpired) as err:
        raise PluginError(f"cli-help: {' '.join(argv[1:])} could not run: {err}")
    text = clean(proc.stdout)
    if proc.returncode != 0 or not text.strip():
        raise PluginError(f"cli-help: {' '.join(argv[1:])} exited {proc.returncode}:\n"
                          f"{proc.stdout}{proc.stderr}")
    _cache[command] = text
    return text


def clean(text: str) -> str:
    """Help text without colours, box characters or trailing spaces; blank runs collapsed."""
    text = BOX.sub(" ", ANSI.sub("", text))
    lines = [line.rstrip() for line in text.splitlines()]
    out = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    # the common left margin a panel leaves behind
    margin = min((len(l) - len(l.lstrip()) for l in out if l.strip()), default=0)
    return "\n".join(l[margin:] for l in out).strip("\n") + "\n"


def listed_commands(top_help: str) -> list:
    """The commands the top-level help lists: argparse's ``{a,b,c}`` or a typer/click
    ``Commands`` section (one ``name  description`` per line, wrapped descriptions indented
    further than the names)."""
    braces = re.search(r"\{([A-Za-z0-9_,-]+)\}", top_help)
    if braces:
        return braces.group(1).split(",")
    names, in_section, indent = [], False, None
    for line in top_help.splitlines():
        if re.match(r"^\s*Commands\b", line, re.I):
            in_section, indent = True, None
            continue
        if not in_section or not line.strip():
            continue
        if re.match(r"^\s*(Usage|Options|Arguments|Global options)\b", line, re.I):
            in_section = False
            continue
        m = re.match(r"^(\s*)([a-z][a-z0-9_-]*)(\s{2,}|$)", line)
        if m and (indent is None or len(m.group(1)) == indent):
            indent = len(m.group(1))
            names.append(m.group(2))
    return names


def fence(text: str) -> str:
    ticks = "````" if "```" in text else "```"
    return f"{ticks}text\n{text}{ticks}\n"


LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s#]+)\)")


def repo_links_as_text(markdown: str, page, config) -> str:
    """``[text](path)`` -> ``text`` where path is no docs file but a file of the repository."""
    docs = Path(config["docs_dir"])
    root = Path(config["config_file_path"]).parent

    def replace(match):
        target = match.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
            return match.group(0)  # http:, mailto:, ...
        page_dir = (docs / page.file.src_path).parent
        if (page_dir / target).exists():
            return match.group(0)
        if (root / target).is_file():
            return match.group(1)
        return match.group(0)

    return LINK.sub(replace, markdown)


def on_page_markdown(markdown, page, config, files):
    markdown = repo_links_as_text(markdown, page, config)
    wanted = {m.group(1) for m in MARKER.finditer(markdown)}
    with ThreadPoolExecutor(max_workers=4) as pool:  # each --help is a Python start-up
        list(pool.map(run_help, sorted(wanted, key=lambda c: c or "")))

    def replace(match):
        command = match.group(1)
        if command:
            _seen.add(command)
        return fence(run_help(command))

    return MARKER.sub(replace, markdown)


def on_post_build(config):
    commands = listed_commands(run_help(None))
    if not commands:
        raise PluginError("cli-help: the top-level --help lists no command")
    missing = [c for c in commands if c not in _seen]
    if missing:
        raise PluginError(f"cli-help: no '<!-- cli-help: COMMAND -->' marker for {', '.join(missing)}")
