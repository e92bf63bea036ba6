"""``python -m scanner`` runs ``keyward scan``."""

from scanner.cli import main

main()
