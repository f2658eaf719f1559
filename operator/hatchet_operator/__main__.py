"""`python -m hatchet_operator` is `hatchet-operator`."""

import sys

from hatchet_operator.cli import main

sys.exit(main())
