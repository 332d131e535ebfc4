"""Errors that are the user's to fix: the tools print them as one line and exit 1, never a traceback."""


class UserError(Exception):
    """Bad input (a file, a name, an option): the message says what is wrong and how to fix it."""
