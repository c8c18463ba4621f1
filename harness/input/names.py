"""Paths as text that is safe to print: no lone surrogates, no control characters."""

import os
import re

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def display(path):
    """``path`` (str or bytes) as plain printable text.

    Undecodable bytes in a file name (lone surrogates after ``os.fsdecode``) become ``\\xNN``, and so do
    control characters, so a location never breaks a UTF-8 console or moves its cursor."""
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    try:
        raw = path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that no decoding produced: keep it visible, escaped
        raw = path.encode("utf-8", "backslashreplace")
    text = raw.decode("utf-8", "backslashreplace")
    return _CONTROL.sub(lambda m: "\\x%02x" % ord(m.group()), text)
