"""`python -m store_server` is the `store-server` command."""

import sys

from store_server.cli import main

sys.exit(main())
