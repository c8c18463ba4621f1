"""Site tuning: one file of allowlists and parameters, compiled to each platform's own mechanism.

- ``model``: the tuning file, loaded and validated (file, line and field in every error);
- ``splunk``: an allowlist macro and the tuned saved search per detection, merged into ``local/``
  (``localconf`` does the merge without touching the user's other stanzas and keys);
- ``elastic``: exception lists and items, the rules' links to them and rule field overrides, plus
  the local evaluation of an exception item on an ECS document;
- ``apply``: tuning applied by ``awssignin test`` and ``replay`` as each platform applies it.

docs/tuning.md explains the semantics: an allowlist entry removes matching *events* before the
detection's logic (threshold counts, sequences) sees them, on both platforms.
"""

from .model import Entry, Tuning, TuningError, load  # noqa: F401
