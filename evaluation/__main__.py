"""``python -m evaluation``: the command line (see `evaluation.cli`)."""

import sys

from evaluation.cli import main

sys.exit(main())
