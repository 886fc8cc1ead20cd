"""The API views: one module per URL resource (the path names the file)."""
