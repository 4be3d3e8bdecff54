"""Endpoint families: build requests from (model, options) and parse every documented response shape."""
