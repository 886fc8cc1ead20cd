"""The simulated radio world: beacons, phones, people, a radio channel and ground truth."""
