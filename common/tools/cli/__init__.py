"""The command line of ``scripts/run.py`` and the pieces the other scripts share: options, the
checks made before any work, the memory check, signals, exit statuses, progress and the log."""
