"""Readers for real source formats, and the choice of reader for a file."""
