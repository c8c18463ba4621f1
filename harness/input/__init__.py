"""Where replay's records come from: files, trees, standard input, S3; every byte read or accounted for.

``harness.reader.Reader`` is the entry point; the modules here are its parts: ``limits`` (the bounds,
in one place), ``names`` (paths as printable text), ``errors`` (what stops a run before it starts),
``decode`` (the streaming JSON decoder with resynchronisation), ``tree`` (directories), ``s3`` (buckets),
``selection`` (the --since/--until/--account/--region filters) and ``options`` (those options on replay).
"""
