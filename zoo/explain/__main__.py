"""`python -m zoo.explain`: see zoo.explain.cli."""

import sys

from zoo.explain.cli import main

sys.exit(main())
