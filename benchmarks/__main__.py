"""``python -m benchmarks``: every benchmark, one table of ratios."""

import sys

from benchmarks.run import main

sys.exit(main())
