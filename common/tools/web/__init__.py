"""``style-transfer-web``: a local web page that runs style transfer on either backend, or both
side by side, with the command line's own options, checks and files (``main.py`` the command,
``server.py`` the page's server, ``jobs.py`` one run, ``static/`` the page)."""
