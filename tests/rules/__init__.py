"""The house rules (tests/rules): layering, installs, docs, the lesson and its loops."""
