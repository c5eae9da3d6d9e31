"""Targets, losses and decoding as pure functions over hand-written arrays."""
