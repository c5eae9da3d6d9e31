"""What ``spacy train`` calls besides the component: the entity-swap augmenter, the callbacks
(weight averages, freezing, malloc_trim, precision, a chain of callbacks), the layer-wise optimizer, the normalizing
tokenizer, threshold sweeps and static vectors for the DGCNN configs."""
