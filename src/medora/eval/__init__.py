"""Evaluation apart from search: datasets, methods under test, metrics and result tables."""
