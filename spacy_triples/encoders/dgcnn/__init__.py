"""``spacy_triples.DGCNN.v1``: the dilated gated CNN encoder (``model`` builds the thinc layer,
``pytorch`` holds the plain PyTorch modules)."""
