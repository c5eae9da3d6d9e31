"""The Ray engine (extract/ray_engine/)."""
