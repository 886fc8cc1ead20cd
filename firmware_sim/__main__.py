"""python -m firmware_sim: the beacon-sim command line."""

from firmware_sim.cli import main

raise SystemExit(main())
