"""Shared conversion bookkeeping: every input record is either converted or skipped with a reason."""
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from spacy.tokens import Doc, DocBin


@dataclass
class ConversionReport:
    records_read: int = 0
    docs_written: int = 0
    triples_written: int = 0
    duplicate_triples_dropped: int = 0
    records_skipped: Counter = field(default_factory=Counter)
    triples_skipped: Counter = field(default_factory=Counter)

    def as_rows(self):
        rows = [
            ("records read", self.records_read),
            ("docs written", self.docs_written),
            ("triples written", self.triples_written),
            ("duplicate triples dropped", self.duplicate_triples_dropped),
        ]
        rows += [(f"records skipped: {why}", n) for why, n in sorted(self.records_skipped.items())]
        rows += [(f"triples skipped: {why}", n) for why, n in sorted(self.triples_skipped.items())]
        return rows

    def table(self) -> str:
        rows = self.as_rows()
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name.ljust(width)}  {value:>8}" for name, value in rows)

    def check(self) -> None:
        """Every record is accounted for: written or skipped with a reason."""
        skipped = sum(self.records_skipped.values())
        assert self.docs_written + skipped == self.records_read, self


def write_docbin(docs: Iterable[Doc], path: Path) -> int:
    db = DocBin(store_user_data=True)
    n = 0
    for doc in docs:
        db.add(doc)
        n += 1
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    db.to_disk(path)
    return n
