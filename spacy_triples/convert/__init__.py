"""Dataset readers -> DocBin files whose reference docs carry gold doc._.triples."""
from .base import ConversionReport, write_docbin
from .unified import read_unified

READERS = {"unified": read_unified}

__all__ = ["ConversionReport", "READERS", "read_unified", "write_docbin"]
