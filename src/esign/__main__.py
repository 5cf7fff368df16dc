"""``python -m esign`` runs the command line."""

import sys

from esign.cli.main import main

sys.exit(main())
