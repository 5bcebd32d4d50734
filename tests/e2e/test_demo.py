"""`make demo` runs the whole tour in well under a minute and leaves nothing running."""

import io
import signal

import pytest

from relay.client.tools import demo


def test_the_demo_tours_the_relay_and_stops_it() -> None:
    out = io.StringIO()
    elapsed = demo.run(out)
    text = out.getvalue()
    assert elapsed < 60
    assert "completed offline: queued; 1 completion waiting" in text
    assert "network back, sync: 1 uploaded, 0 waiting" in text
    assert "line 1 Молоко 1 л: declared 10, actual 9 = 6 + 3 (SN-42)" in text
    assert "acknowledged 2; the feed now holds 0 results" in text
    assert "stopped: nothing is left running" in text


def test_ctrl_c_and_sigterm_end_the_demo_cleanly(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*_args: object, **_kwargs: object) -> float:
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "run", interrupted)
    with pytest.raises(SystemExit) as exited:
        demo.main()
    assert exited.value.code == 130
    with pytest.raises(SystemExit) as terminated, demo._stop_on_sigterm():
        signal.raise_signal(signal.SIGTERM)
    assert terminated.value.code == 128 + signal.SIGTERM
