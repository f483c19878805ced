"""scoring: folds deal events into state, ranks the lists, raises alerts."""
