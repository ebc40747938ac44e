"""Tests of the core (common/*.py), one file per module."""
