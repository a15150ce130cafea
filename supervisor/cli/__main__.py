"""`python -m supervisor.cli ...`: the same as the `supervisor` command."""

from supervisor.cli import main

main()
