"""Retrieval: turn a question into ranked passages from the library."""
