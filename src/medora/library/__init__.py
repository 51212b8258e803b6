"""The library: documents and passages in one store (SQLite by default), and how they get there."""
