"""The GlobalPointer-linking (GPLinker-style) head: ``model`` (builder and head interface),
``pytorch`` (the nn.Module), ``util`` (targets and decoding), ``windows`` (bounded pair windows)."""
