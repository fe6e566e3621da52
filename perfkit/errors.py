"""The kit's one exception root; the CLI turns any of them into a one-line message and an exit code.

Each subclass is a docstring and an exit code, and those that name a file carry it: alike on purpose.
"""


class KitError(Exception):
    """Root of every error the kit raises on purpose. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class ConfigurationError(KitError):
    """The environment or the command line asks for something the kit cannot do."""

    exit_code = 2


class InstanceError(KitError):
    """An instance file is missing, malformed or inconsistent."""

    exit_code = 3

    def __init__(self, path: object, field: str, problem: str) -> None:
        self.path = path
        self.field = field
        self.problem = problem
        where = f"{path}: {field}" if field else f"{path}"
        super().__init__(f"{where}: {problem}")


class DatabaseError(KitError):
    """The server could not be reached, is unsupported, or refused what the kit asked."""

    exit_code = 4


class OwnershipError(KitError):
    """The kit was about to touch an object it did not create, and refused."""

    exit_code = 5


class ParityError(KitError):
    """The two implementations returned different summaries."""

    exit_code = 6


class MeasurementError(KitError):
    """A measurement could not be taken (a probe failed, timed out, or would overwrite results)."""

    exit_code = 7


class NotebookError(KitError):
    """A notebook of the batch failed; the message names the cell and the saved notebook."""

    exit_code = 8


class CandidateError(KitError):
    """A candidate file cannot be loaded or run; the message names the file and what to fix."""

    exit_code = 9

    def __init__(self, path: object, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class RegressionError(KitError):
    """A comparison found a significant slowdown beyond the threshold asked for."""

    exit_code = 10


class SubjectError(KitError):
    """A subject folder is missing or its description is malformed; the message names the file and field."""

    exit_code = 11

    def __init__(self, path: object, field: str, problem: str) -> None:
        self.path = path
        self.field = field
        self.problem = problem
        where = f"{path}: {field}" if field else f"{path}"
        super().__init__(f"{where}: {problem}")


class OutputError(KitError):
    """An output could not be written (a full disk, a read-only file system, no permission, a path
    under a file); the message names the path and what to do, and the run stays INCOMPLETE."""

    exit_code = 12


def first_line(exc: BaseException) -> str:
    """What an exception says, on one line (psycopg's and libpq's messages run to several)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
