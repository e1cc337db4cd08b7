"""``python -m spanline`` runs the CLI."""

import sys

from spanline.cli import main

sys.exit(main())
