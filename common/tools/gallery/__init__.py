"""``scripts/pictures.py``: pictures people can look at, made by run.py's own options in both
backends (the chapter's recipe, ``--recipe fast``, L-BFGS, colour control, blended styles, the
chapter's layers), written as small JPEGs with a contact sheet and the credit the inputs need."""
