"""Dataset readers (convert/) and annotation-tool round trips."""
