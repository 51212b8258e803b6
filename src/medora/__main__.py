"""Allow ``python -m medora``."""

from medora.cli import main

main()
