"""The reader's bounds, in one place (README, "Using it", describes them)."""

# Largest record (one NDJSON line, one element of a Records/Events array, one JSON value) the reader
# decodes, in characters of JSON text (bytes, for ASCII). CloudTrail's own largest event size setting
# is 1 MB ("Large" MaxEventSize, PutEventConfiguration in the CloudTrail API reference); the bound
# leaves room above it for re-encoded exports (pretty-printed, \u-escaped) and is what caps memory:
# a longer line is skipped while being read, never held whole.
MAX_RECORD_CHARS = 4 << 20

# Deepest nesting of objects and arrays a record may have. Python's json decoder recurses per level
# and fails near 1000 levels; the field views of the engine recurse too. CloudTrail records nest a
# handful of levels (requestParameters, resources); 100 leaves a wide margin and keeps every
# recursive walk over an accepted record far from the interpreter's limit.
MAX_DEPTH = 100

# How much is read from a file at once.
CHUNK = 1 << 20
