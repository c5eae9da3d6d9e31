"""The corpus graph (graph/) and its integrations."""
