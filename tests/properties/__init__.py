"""Properties across subjects: hostile input, robustness (odd and huge documents, batch and thread independence, saved-pipeline checks), byte-order marks in every reader."""
