"""The HTTP service (serve/)."""
