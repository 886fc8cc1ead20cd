"""The store server: identity, presence, pickup alerts and the staff tablet."""
