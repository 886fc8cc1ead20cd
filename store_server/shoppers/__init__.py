"""Shoppers: enrolment, consents, their own data."""
