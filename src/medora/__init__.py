"""Medora: a clinical evidence answer engine whose every statement cites a passage that says it.

The pipeline, one subpackage per stage:
sources (readers for real formats) -> library (SQLite store, chunking, ingestion)
-> retrieve (search) -> answer (evidence selection, article composition, rendering).
"""

__version__ = "0.1.0"
