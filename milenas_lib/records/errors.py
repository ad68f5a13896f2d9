"""How the kit's expected errors show in a notebook: one line, like on the command line.

IPython calls an exception's ``_render_traceback_`` instead of printing its
traceback; an error meant for the user (bad input, a damaged or locked run
folder, a run that went non-finite) says what to do in its message, and the
frames of the library add nothing to it.
"""
from __future__ import annotations


class OneLine:
    """Mixin for an exception whose message is the whole story."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]
