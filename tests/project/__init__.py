"""project.yml, assets, the docs site, benchmark settings, and the test suite's own rules."""
