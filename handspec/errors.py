"""The one error type for bad user input, shared by every layer.

Every loader (hand YAML, MIDI, PIG, checkpoints, CLI arguments) raises ``InputError`` with
the file, the field and what is wrong, so the CLI can print exactly one line and exit 2
instead of a traceback. It lives in the lowest layer so every package can raise it.
"""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Bad input from a user: a file, a field in it, and what is wrong."""

    def __init__(self, message: str, *, file: str | Path | None = None, field: str | None = None):
        self.file = str(file) if file is not None else None
        self.field = field
        self.message = message
        super().__init__(self.one_line())

    def one_line(self) -> str:
        parts = [p for p in (self.file, self.field) if p]
        prefix = ": ".join(parts)
        text = f"{prefix}: {self.message}" if prefix else self.message
        return " ".join(text.split())  # exactly one line, whatever the message held
