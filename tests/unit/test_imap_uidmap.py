"""`UidMap`: a session's UIDs as runs, checked against a plain sorted list."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roost.services.imap.uidmap import UidMap

uid_sets = st.sets(st.integers(min_value=1, max_value=300), max_size=120)


@given(uid_sets, st.sets(st.integers(min_value=1, max_value=320), max_size=60))
def test_it_behaves_like_a_sorted_list(uids: set[int], gone: set[int]) -> None:
    model = sorted(uids)
    view = UidMap(model)
    view.remove(gone)
    model = [uid for uid in model if uid not in gone]
    assert list(view) == model and len(view) == len(model)
    assert view.last == (model[-1] if model else 0)
    for seq, uid in enumerate(model, start=1):
        assert view.seq_of(uid) == seq and view.uid_at(seq) == uid
    for uid in gone:
        assert uid not in view and view.seq_of(uid) is None
    for low, high in ((1, 50), (40, 41), (100, 400), (7, 3)):
        assert view.between_uids(low, high) == [u for u in model if low <= u <= high]
        expected = model[low - 1 : high] if low <= high else []
        assert view.between_seqs(low, high) == expected
    more = [view.last + 1, view.last + 2, view.last + 10]
    view.extend(more)
    assert list(view) == model + more


def test_consecutive_uids_are_one_run() -> None:
    view = UidMap(range(1, 10_001))
    assert view.runs == 1 and len(view) == 10_000
    view.remove([5000])
    assert view.runs == 2 and view.seq_of(5001) == 5000 and view.uid_at(5000) == 5001
    view.extend([10_001])
    assert view.runs == 2


def test_uids_only_grow() -> None:
    view = UidMap([1, 2])
    with pytest.raises(ValueError, match="does not come after"):
        view.extend([2])


@given(uid_sets, st.lists(st.integers(min_value=1, max_value=320), max_size=80))
def test_seqs_of_sorted_uids(uids: set[int], asked: list[int]) -> None:
    model = sorted(uids)
    view = UidMap(model)
    wanted = sorted(set(asked))
    expected = [model.index(u) + 1 if u in uids else 0 for u in wanted]
    assert view.seqs_of(wanted) == expected
