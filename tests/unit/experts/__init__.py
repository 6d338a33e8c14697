"""Unit tests of the experts server."""
