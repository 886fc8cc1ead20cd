"""Presence: gateway batches and phone sightings resolved to shoppers, fused into who is where."""
