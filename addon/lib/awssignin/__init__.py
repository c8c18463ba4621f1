"""The awssignin detection engine.

Pure Python, compatible with Python 3.9 and free of third-party imports: the same code runs inside
Splunk (under the ``awssignin`` search command) and in the harness's ``replay`` and ``test``.
"""

__version__ = "0.1.0"
