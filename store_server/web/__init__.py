"""The web layer: every Flask route, schema, page, template, static file and Socket.IO room."""
