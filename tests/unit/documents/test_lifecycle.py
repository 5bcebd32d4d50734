"""A document's state from its instances' states (README Decisions: "Document state")."""

import pytest

from relay.documents.lifecycle import document_state


@pytest.fixture(autouse=True)
def _clean() -> None:
    """Overrides the conftest's per-test database reset: these rules never touch a database."""


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (["queued"], "queued"),
        (["claimed"], "claimed"),
        (["completed"], "completed"),
        (["processed"], "processed"),
        (["cancelled"], "cancelled"),
        # The least advanced live instance decides.
        (["processed", "queued", "completed"], "queued"),
        (["completed", "claimed", "processed"], "claimed"),
        (["processed", "completed"], "completed"),
        (["processed", "processed"], "processed"),
        # Cancelled instances are ignored while any other remains.
        (["cancelled", "processed"], "processed"),
        (["completed", "cancelled", "claimed"], "claimed"),
        (["cancelled", "queued"], "queued"),
        (["cancelled", "cancelled"], "cancelled"),
    ],
)
def test_document_state(states: list[str], expected: str) -> None:
    assert document_state(states) == expected


def test_document_state_does_not_depend_on_order() -> None:
    states = ["processed", "cancelled", "completed", "claimed"]
    assert document_state(states) == document_state(reversed(states)) == "claimed"


def test_document_state_takes_any_iterable_once() -> None:
    assert document_state(s for s in ["completed", "cancelled", "processed"]) == "completed"
