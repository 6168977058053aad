"""``python -m fastmlp``: the ``fastmlp`` command (see ``fastmlp.cli``)."""

import sys

from fastmlp.cli import main

if __name__ == "__main__":
    sys.exit(main())
