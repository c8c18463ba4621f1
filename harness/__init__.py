"""The harness behind the ``awssignin`` CLI: detection files, artefact builds, local and Docker runners."""
