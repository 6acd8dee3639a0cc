"""The one exception type for problems a user can cause and fix."""


class CoreError(Exception):
    """A problem with the user's input or environment, with an actionable message.

    The CLI prints it as one line and exits non-zero; the apps show it as an
    error message. Anything else escaping `core` is a bug.
    """
