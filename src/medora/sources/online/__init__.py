"""Clients of outside web services (openFDA, NCBI E-utilities): live evidence and online sources."""
