"""User-facing errors: the CLI prints their message (no traceback) and exits with 2."""


class T2MGPTError(Exception):
    """A problem the user can fix; the message says what went wrong and what to do."""


class InputError(T2MGPTError, ValueError):
    """Bad input data or arguments (shape, dimension, NaN, empty text, ...)."""


class CheckpointError(T2MGPTError):
    """A checkpoint or model folder that is missing, corrupt or of another kind."""


class DataError(T2MGPTError):
    """A dataset folder that is missing, incomplete or inconsistent."""


class OutputError(T2MGPTError):
    """A file that cannot be written (disk full, read-only file system, no permission)."""


class TrainingError(T2MGPTError):
    """Training cannot go on (e.g. the loss became NaN); the last good checkpoint is kept."""
