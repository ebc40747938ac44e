"""The lesson: the two plain loops (loop_mxnet.py, loop_torch.py), the framework traps
(traps.py), the chapter's exercises (exercises.py), the port-this exercises (ports.py) and the
notebook that walks through them (style_transfer.py, executed into style_transfer.ipynb by run.py)."""
