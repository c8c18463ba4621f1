"""The reader's bounds, in one place (README, "Using it", describes them)."""

# Largest record (one NDJSON line, one element of a Records/Events array, one JSON value) the reader
# decodes, in characters of JSON text (bytes, for ASCII). A harness choice, not an AWS figure: CloudTrail
# caps event size ("Standard" or "Large" MaxEventSize, PutEventConfiguration in the CloudTrail API
# reference; the byte figures were not verified here) and truncates large responseElements, so real
# records are far smaller; 4 MiB leaves room for re-encoded exports (pretty-printed, \u-escaped) and
# for the test corpus's record with a 1 MiB user agent, and it is what caps memory: a longer line is
# skipped while being read, never held whole.
MAX_RECORD_CHARS = 4 << 20

# Deepest nesting of objects and arrays a record may have. Python's json decoder recurses per level
# and fails near 1000 levels; the field views of the engine recurse too. CloudTrail records nest a
# handful of levels (requestParameters, resources); 100 leaves a wide margin and keeps every
# recursive walk over an accepted record far from the interpreter's limit.
MAX_DEPTH = 100

# How much is read from a file at once.
CHUNK = 1 << 20
