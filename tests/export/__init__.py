"""Export writers (export/) and render."""
