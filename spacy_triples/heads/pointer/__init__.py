"""The half-pointer, half-tagging (CasRel-style) head: ``model`` (builder and head interface),
``pytorch`` (the nn.Module), ``util`` (sampling, targets and decoding)."""
