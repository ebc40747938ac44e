"""Files and the network, for the tooling: image files, atomic writes and locks, the cache and
verified downloads, weight files and pretrained weights, checkpoints on disk, figures."""
