"""The tooling (tests/tools): the scripts end to end, their files and their bad input."""
