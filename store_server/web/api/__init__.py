"""The HTTP API: one module per URL resource, each a blueprint of thin views."""
