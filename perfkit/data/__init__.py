"""Stage 1, data: what is measured, and where.

Enters: instance JSON files, candidate files, ``DATABASE_URL`` or ``POSTGRES_*`` (or nothing: the
embedded server).
Leaves: connections to a real PostgreSQL, seeded datasets in kit-owned schemas, the implementations
and candidates as callables, and the environment a result was taken in.
Imports nothing from the stages after it.
"""
