"""Each head's model (GlobalPointer, PointerHead) and the DGCNN encoder: gradients, overfitting, round trips."""
