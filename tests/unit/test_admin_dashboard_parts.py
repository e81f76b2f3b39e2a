"""Parts of the dashboard and the Spool page that need no server: counts, plot, headers."""

from __future__ import annotations

from roost.control.admin_warnings import AdminWarning, Level, collect
from roost.control.host_stats import human_bytes, memory
from roost.control.mailstats import MailStats
from roost.core.clock import ManualClock
from roost.web.admin.dashboard import PLOT_HEIGHT, PLOT_WIDTH, plot
from roost.web.admin.spool import summary_headers


def test_per_minute_counts_the_last_hour_oldest_first() -> None:
    clock = ManualClock()
    stats = MailStats(clock)
    stats.record("received", 3)
    clock.advance(60)
    stats.record("received")
    stats.record("delivered", 2)
    series = stats.per_minute("received", 60)
    assert len(series) == 60 and series[-2:] == [3, 1] and sum(series) == 4
    assert stats.per_minute("delivered", 5) == [0, 0, 0, 0, 2]
    clock.advance(60 * 60)
    assert stats.per_minute("received") == [0] * 60
    assert stats.window("received").since_start == 4


def test_plot_scales_to_the_busiest_minute() -> None:
    drawn = plot({"received": [0, 5, 10], "delivered": [0, 0, 0]})
    assert drawn.peak == 10 and drawn.totals == {"received": 15, "delivered": 0}
    assert drawn.lines["received"] == f"0.0,{PLOT_HEIGHT:.1f} 300.0,60.0 {PLOT_WIDTH:.1f},0.0"
    assert plot({"received": [0, 0]}).lines["received"] == "0.0,120.0 600.0,120.0"


def test_summary_headers_decode_and_never_fail() -> None:
    head = summary_headers(
        b"From: =?utf-8?q?J=C3=BCrgen?= <j@example.org>\r\n"
        b"Subject: long\r\n subject\r\n\r\nSubject: not a header\r\n"
    )
    assert (head.from_, head.subject) == ("Jürgen <j@example.org>", "long subject")
    broken = summary_headers(b"Subject: =?x-unknown?q?abc?=\n\nbody")
    assert broken.subject == "=?x-unknown?q?abc?="
    assert summary_headers(b"").subject == ""
    eight_bit = summary_headers(b"Subject: \xff caf\xc3\xa9\r\n\r\n")
    assert eight_bit.subject == "\ufffd café"
    assert summary_headers(b"\xff\xfe: \x00\r\nSubject: x\r\n\r\n").subject in ("", "x")


async def test_warning_sources_are_ordered_and_a_broken_one_is_reported() -> None:
    async def info() -> list[AdminWarning]:
        return [AdminWarning(Level.INFO, "fyi")]

    async def bad() -> list[AdminWarning]:
        raise OSError("disk gone")

    async def critical() -> list[AdminWarning]:
        return [AdminWarning(Level.CRITICAL, "full", "/admin/spool")]

    found = await collect([info, bad, critical])
    assert [w.level for w in found] == [Level.CRITICAL, Level.WARNING, Level.INFO]
    assert "disk gone" in found[1].text


def test_host_figures() -> None:
    assert human_bytes(512) == "512 B"
    assert human_bytes(1536) == "1.5 KiB"
    assert human_bytes(10 * 1024**3) == "10.0 GiB"
    resident, _peak = memory()
    assert resident is not None and resident > 1024 * 1024
