"""Measurements, and the launcher of the whole stack: the one package that imports all three."""
