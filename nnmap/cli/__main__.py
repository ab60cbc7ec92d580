"""``python -m nnmap.cli``: the ``nnmap`` command, from a checkout without the console script."""

import sys

from nnmap.cli import main

sys.exit(main())
