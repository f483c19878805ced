"""The domain: phases, deal state, scores, lists and alert rules. Pure Python, no I/O."""
