"""Every command's options, help and one real call."""
