"""``python -m eie_sim``: the command line."""

import sys

from eie_sim.cli import main

sys.exit(main())
