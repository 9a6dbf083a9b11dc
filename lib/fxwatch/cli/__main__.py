"""`python -m fxwatch.cli ...`: the same as the `fxwatch` command."""

import sys

from fxwatch.cli import main

sys.exit(main())
