"""Writers of the flat triple records (``readers.FIELDS``): JSON lines and CSV, one row per triple."""
import csv
import json
from typing import Dict, Iterable

from ..safe_io import atomic_open
from .readers import FIELDS


def to_jsonl(records: Iterable[Dict], path: str) -> int:
    """One JSON object per line (UTF-8, non-ASCII kept); returns the number of records."""
    n = 0
    with atomic_open(path, "w", encoding="utf8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            n += 1
    return n


def to_csv(records: Iterable[Dict], path: str) -> int:
    """A CSV table with a header row of ``FIELDS``; returns the number of records."""
    n = 0
    with atomic_open(path, "w", encoding="utf8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=FIELDS)
        writer.writeheader()
        for record in records:
            writer.writerow(record)
            n += 1
    return n
