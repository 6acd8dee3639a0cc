"""The one exception type for problems a user can cause and fix."""


class CoreError(Exception):
    """A problem with the user's input or environment, with an actionable message.

    The CLI prints it as one line and exits non-zero; the apps show it as an
    error message. Anything else escaping `core` is a bug.
    """


class InputRejected(CoreError):
    """An upload refused before prediction: empty, too large, wrong type, or wrong modality."""

    def __init__(self, message: str, *, status: int = 415):
        super().__init__(message)
        self.status = status


class ModelUnavailable(CoreError):
    """No model can serve: none trained yet, or an unknown model was asked for."""

    def __init__(self, message: str, *, status: int = 404):
        super().__init__(message)
        self.status = status
