"""Reporting: what worked, from the funnel to the care score."""
