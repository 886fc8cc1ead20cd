"""``python -m gateway``: the same as the ``beacon-gateway`` command."""

from gateway.cli import main

raise SystemExit(main())
