"""The ``lightkeeper`` command line. Each subcommand lives in its own module here and exposes
``register(subparsers)``; heavy imports stay inside the command functions so ``--help`` and the
agent start fast."""
