"""`python -m qfin` is the `qfin` command."""

from qfin.cli import main

main()
