"""`python -m safeshare`."""

import sys

from safeshare.cli import main

sys.exit(main())
