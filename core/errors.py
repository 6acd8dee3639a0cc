"""The project's exception types: problems a user can cause and fix, each with the HTTP status it means.

Every one is a `CoreError` with an actionable message. The CLI prints it as
one line and exits non-zero; the apps show the message, and the REST API
answers with the type's `status` (it never picks a status from the message
text). Anything else escaping `core` is a bug.

    CoreError (422)
      InvalidInput (422)          a bad option, file, dataset or value
        InputUnjudgeable (422)    a readable input with nothing the model can judge
        InputRejected (415)       an upload refused before prediction
          EmptyInput (400)
          InputTooLarge (413)
        PromotionRefused (422)    a model whose test figures fail the guardrails
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


class InvalidInput(CoreError):
    """An option, file, dataset or value that cannot be used as given."""

    status = 422


class InputUnjudgeable(InvalidInput):
    """A readable input that holds nothing a model can judge: silence, too short, blank or too small.

    Refused rather than answered with a warning: any class given for it would
    be a confident verdict on no signal.
    """

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


class PromotionRefused(InvalidInput):
    """A promotion refused by the guardrails; promoting with force overrides it, and that is recorded.

    Attributes:
        concerns: Why the model should not be served, one sentence each.
    """

    status = 422

    def __init__(self, message: str, concerns: list[str]):
        super().__init__(message)
        self.concerns = concerns


class NotFound(CoreError):
    """A run, model or data source that does not exist."""

    status = 404


class ModelUnavailable(NotFound):
    """No model can serve the request: an unknown model was asked for."""

    status = 404


class Conflict(CoreError):
    """The request was made on a state that has changed since (another reviewer signed the case off meanwhile)."""

    status = 409


class Unavailable(CoreError):
    """Something needed is not reachable now (no trained model yet, weights that cannot be downloaded)."""

    status = 503
