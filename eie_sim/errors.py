"""Errors that carry a user-facing, one-line message.

Every error a user can cause with bad input derives from :class:`EieSimError`. The CLI turns
these into ``eie-sim: error: <message>`` on stderr and exit code 2, with no traceback.
"""


class EieSimError(Exception):
    """Base class: bad input that the user can fix. ``str(err)`` is one line."""


class ConfigError(EieSimError, ValueError):
    """An architecture or simulation parameter is out of range or unknown."""


class WorkloadError(EieSimError, ValueError):
    """A workload name, layer shape, density or weight file is invalid."""


class CapacityError(EieSimError):
    """A layer does not fit the on-chip memory of the configured architecture."""


class ResourceError(EieSimError):
    """An input would cost more than the resource limits allow (memory, file size, int64)."""
