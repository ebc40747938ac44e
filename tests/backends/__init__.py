"""The backends (tests/backends): the same tests for each, against NumPy references and each other."""
