"""Stage 4, record: results kept on disk, once.

Enters: measurements and checks.
Leaves: run directories (new, absolute, marked incomplete until their run finishes), files written
once, the one versioned record format (``schema_version``, ``kind``, environment) and the one loader
every later reader goes through, and the curated evidence.
"""
