"""review: the lists, deal cards and alert feed over HTTP."""
