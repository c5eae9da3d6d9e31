"""The component: factory, config, labels, schemas, typed entities, mentions, listeners, Chinese."""
