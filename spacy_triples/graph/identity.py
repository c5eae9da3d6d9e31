"""Entity identity for the corpus graph: a normalised key plus the entity type, unless a user's alias
table or an upstream entity linker (the span's ``kb_id_``) names the entity.

Precedence, highest first:

1. the mention's ``kb_id`` (an ``entity_linker`` resolved this mention in its context);
2. the alias table (``alias -> canonical id``, optionally per type), matched on the normalised key;
3. the normalised key and the entity type.

Two mentions are the same entity exactly when they resolve to the same :class:`EntityRef` ``iri_id``.
"""
import csv
import io
import json
import unicodedata
from pathlib import Path
from typing import Dict, NamedTuple, Optional, Tuple

from ..safe_io import BLANK_LINE, READ_ENCODING, json_line

UNTYPED = "ENTITY"  # the type of a span without a label: the pipe's own default label (triples.DEFAULT_ENTITY_LABEL)


def entity_key(text: str, strip_accents: bool = False) -> str:
    """The normalised text of an entity: Unicode NFKC (full-width letters and digits become ASCII,
    ligatures split), case folded (``casefold``: "Straße" and "STRASSE" agree), whitespace runs as
    one space, stripped; ``strip_accents`` also removes combining marks ("Café" -> "cafe")."""
    text = unicodedata.normalize("NFKC", text).casefold()
    if strip_accents:
        text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
        text = unicodedata.normalize("NFKC", text)
    return " ".join(text.split())


class EntityRef(NamedTuple):
    """A resolved entity: ``id`` is the canonical id (alias table or kb_id) or the normalised key,
    ``type`` the entity label (``ENTITY`` when untyped: gold spans without a label and the pipe's
    untyped predictions are the same type), ``source`` one of ``kb``, ``alias``, ``key``."""

    id: str
    type: str
    key: str
    source: str

    @property
    def identity(self) -> Tuple[str, str]:
        """What makes two mentions one entity: a canonical id alone (it names one thing whatever the
        predicted type), or the key together with the type."""
        if self.source == "key":
            return ("key", f"{self.type}\x00{self.key}")
        return ("id", self.id)


class AliasTable:
    """``alias -> canonical id`` read from CSV (``alias,id[,type]``, a header row optional) or JSONL
    (``{"alias": ..., "id": ..., "type": ...}``). Aliases are matched on their normalised key; an alias
    with a type applies to mentions of that type only and wins over an untyped one."""

    def __init__(self, entries: Optional[Dict[Tuple[str, Optional[str]], str]] = None, strip_accents: bool = False):
        self.entries = dict(entries or {})
        self.strip_accents = strip_accents

    def __len__(self) -> int:
        return len(self.entries)

    def lookup(self, key: str, type_: str) -> Optional[str]:
        return self.entries.get((key, type_)) or self.entries.get((key, None))

    @classmethod
    def from_file(cls, path, strip_accents: bool = False) -> "AliasTable":
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"Alias table {path} does not exist: give a CSV (alias,id[,type]) or JSONL "
                             '({"alias": ..., "id": ...}) file.')
        try:
            text = path.read_text(encoding=READ_ENCODING)  # a byte-order mark (Excel's CSV) dropped
        except UnicodeDecodeError as err:
            raise ValueError(f"Alias table {path} is not UTF-8 (invalid byte at {err.start}).") from err
        table = cls(strip_accents=strip_accents)
        origin: Dict[Tuple[str, Optional[str]], int] = {}
        jsonl = path.suffix.lower() in (".jsonl", ".json") or text.lstrip().startswith("{")
        rows = _jsonl_rows(path, text) if jsonl else _csv_rows(path, text)
        for line, alias, canonical, type_ in rows:
            where = f"{path}, line {line}"
            if not alias.strip() or not canonical.strip():
                raise ValueError(f"{where}: the alias and the id must be non-empty, got {alias!r} -> {canonical!r}.")
            key = (entity_key(alias, strip_accents), type_.strip() or None if type_ is not None else None)
            canonical = canonical.strip()
            if key in table.entries and table.entries[key] != canonical:
                raise ValueError(
                    f"{where}: alias {alias!r} (normalised {key[0]!r}) maps to {canonical!r}, but line {origin[key]} "
                    f"maps it to {table.entries[key]!r}. Keep one, or give each a type column."
                )
            table.entries[key] = canonical
            origin.setdefault(key, line)
        return table


def _csv_rows(path: Path, text: str):
    reader = csv.reader(io.StringIO(text))
    for n, row in enumerate(reader, 1):
        if not row or all(not cell.strip() for cell in row):
            continue
        if n == 1 and [c.strip().lower() for c in row[:2]] == ["alias", "id"]:
            continue  # header
        if len(row) not in (2, 3):
            raise ValueError(f"{path}, line {reader.line_num}: expected 'alias,id' or 'alias,id,type', got {len(row)} "
                             f"columns ({','.join(row)[:60]!r}).")
        yield reader.line_num, row[0], row[1], row[2] if len(row) == 3 else None


def _jsonl_rows(path: Path, text: str):
    for n, line in enumerate(text.splitlines(), 1):
        item = json_line(line, f"{path}, line {n}")
        if item is BLANK_LINE:
            continue
        if not (isinstance(item, dict) and isinstance(item.get("alias"), str) and isinstance(item.get("id"), str)):
            raise ValueError(f'{path}, line {n}: expected {{"alias": "...", "id": "..."[, "type": "..."]}}, '
                             f"got {line.strip()[:60]!r}.")
        type_ = item.get("type")
        if type_ is not None and not isinstance(type_, str):
            raise ValueError(f"{path}, line {n}: 'type' must be a string, got {json.dumps(type_)}.")
        yield n, item["alias"], item["id"], type_


class EntityResolver:
    """Resolves a mention (text, label, kb_id) to an :class:`EntityRef` (see the module docstring)."""

    def __init__(self, aliases: Optional[AliasTable] = None, strip_accents: bool = False):
        if aliases is not None and aliases.strip_accents != strip_accents:
            raise ValueError("The alias table was read with a different --strip-accents setting than the resolver's.")
        self.aliases = aliases or AliasTable(strip_accents=strip_accents)
        self.strip_accents = strip_accents

    def resolve(self, text: str, label: str = "", kb_id: str = "") -> Optional[EntityRef]:
        """None when the text is empty after normalisation (nothing to name)."""
        key = entity_key(text, self.strip_accents)
        if not key:
            return None
        type_ = label or UNTYPED
        if kb_id:
            return EntityRef(kb_id, type_, key, "kb")
        canonical = self.aliases.lookup(key, type_)
        if canonical:
            return EntityRef(canonical, type_, key, "alias")
        return EntityRef(key, type_, key, "key")
