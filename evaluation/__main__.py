"""``python -m evaluation``: the kit's command line (`perfkit.commands`), under the name users type."""

import sys

from perfkit.commands.cli import main

sys.exit(main(prog="python -m evaluation"))
