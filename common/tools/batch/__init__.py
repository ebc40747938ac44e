"""``scripts/batch.py``: every content x style pair of a collection, on a local Ray or a Ray
cluster, recorded pair by pair in a manifest so that the same command again does only the rest."""
