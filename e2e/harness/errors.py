"""The one error the harness raises: a sentence that says what to install, free or set."""


class StackError(RuntimeError):
    """The stack cannot be brought up or used; the message names the fix."""
