"""`python -m segmentum` runs the CLI."""

from segmentum.cli.app import main

main()
