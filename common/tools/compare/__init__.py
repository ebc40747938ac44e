"""``scripts/compare.py``: MXNet against PyTorch on identical inputs, stage by stage, their
training trajectories and pictures, the chapter's two tabs and why they differ, as a report."""
