"""The project's exception types: problems a user can cause and fix, each with the HTTP status it means.

Every one is a `CoreError` with an actionable message. The CLI prints it as
one line and exits non-zero; the apps show the message, and the REST API
answers with the type's `status` (it never picks a status from the message
text). Anything else escaping `core` is a bug.

    CoreError (422)
      InvalidInput (422)          a bad option, file, dataset or value
        InputRejected (415)       an upload refused before prediction
          EmptyInput (400)
          InputTooLarge (413)
      NotFound (404)              no such run, model or data source
        ModelUnavailable (404)    no model can serve the request
      Unavailable (503)           something needed is not reachable now
"""

from __future__ import annotations


class CoreError(Exception):
    """A problem with the user's input or environment, with an actionable message.

    Attributes:
        status: The HTTP status the error means; each subclass sets its own.
    """

    status: int = 422

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status


class InvalidInput(CoreError):
    """An option, file, dataset or value that cannot be used as given."""

    status = 422


class InputRejected(InvalidInput):
    """An upload refused before prediction: wrong type or wrong modality."""

    status = 415


class EmptyInput(InputRejected):
    """An upload with no content."""

    status = 400


class InputTooLarge(InputRejected):
    """An upload above a size limit: bytes, megapixels or minutes of audio."""

    status = 413


class NotFound(CoreError):
    """A run, model or data source that does not exist."""

    status = 404


class ModelUnavailable(NotFound):
    """No model can serve: an unknown model was asked for (or, with `status=503`, none is trained yet)."""

    status = 404


class Unavailable(CoreError):
    """Something needed is not reachable now (no trained model yet, weights that cannot be downloaded)."""

    status = 503
