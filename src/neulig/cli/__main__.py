"""``python -m neulig.cli <step> ...``, the same as the ``neulig`` command."""

import sys

from neulig.cli import main

sys.exit(main())
