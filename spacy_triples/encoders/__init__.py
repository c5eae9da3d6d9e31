"""Token encoders (tok2vec layers) of the package: DGCNN for CPUs and languages without a transformer."""
