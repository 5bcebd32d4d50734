"""A regular-expression validator that means what the OpenAPI document's pattern means."""

from typing import Any

from marshmallow import ValidationError, validate


class Pattern(validate.Regexp):
    """The whole value must match, as ECMA's ``^…$`` says in the OpenAPI document.

    Python's ``$`` also matches before a final newline, so with ``re.match`` "abc\\n" passed
    ``^[a-z]+$``: a value the document calls invalid was taken (a process key, a PIN).
    """

    def __call__(self, value: Any) -> Any:
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value
