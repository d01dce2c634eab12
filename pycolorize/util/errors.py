"""Errors as people read them."""


class UserError(Exception):
    """A failure whose text is written for the user (a command's CommandError, a failed fetch):
    printed as it is, with no exception name before it."""


class FetchError(UserError):
    """A file could not be had from the network or installed: offline, a damaged or wrong file, a
    full disk (the released weights, the files of a PyPI wheel); the text says what to do."""


def one_line(e):
    """An exception as one line: its text, whitespace collapsed; an unexpected kind says its name
    (pycolorize.Error is a ValueError; a missing or unreadable file an OSError)."""
    text = " ".join(str(e).split()) or type(e).__name__
    if not isinstance(e, (ValueError, OSError, UserError)):
        text = f"{type(e).__name__}: {text}"
    return text
