"""Command-line runs (``python -m bertlab.runs.<name>``): the long experiments whose results the chapters quote.

They import the library; nothing in the library and no notebook imports them.
"""
