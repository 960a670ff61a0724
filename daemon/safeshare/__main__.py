"""`python -m safeshare`."""

import sys

from safeshare.cli import main

if __name__ == "__main__":  # the decoder worker imports this module too (spawn)
    sys.exit(main())
