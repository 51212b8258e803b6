"""Sources: the public collections Medora knows by name, how to fetch them, and readers for their formats."""
