"""``python -m perfkit``: the command line (see `perfkit.commands`)."""

import sys

from perfkit.commands.cli import main

sys.exit(main())
