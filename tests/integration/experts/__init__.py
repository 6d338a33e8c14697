"""Integration tests of the experts server."""
