"""Which registered patients a PCN is funded for (``domain.funding.counted``)."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pcnreg.domain import funding

CODES = st.sampled_from([f"C8{n:04d}" for n in range(30)])
SIZES = st.dictionaries(CODES, st.none() | st.integers(min_value=0, max_value=40_000), max_size=12)


def test_members_that_opted_out_are_left_out_and_named():
    got = funding.counted({"C84001": 9_000, "C84002": 4_500, "C84003": None}, {"C84002", "C84999"})
    assert got.list_size == 9_000                         # a missing list size counts 0
    assert got.opted_out == (("C84002", 4_500),)          # a code that is not a member is ignored
    assert got.opted_out_patients == 4_500
    assert funding.counted({"C84001": 9_000}, set()) == funding.Counted(9_000, ())


@given(SIZES, st.sets(CODES))
def test_counted_and_left_out_add_up_to_the_whole_list(sizes, out):
    got = funding.counted(sizes, out)
    assert got.list_size + got.opted_out_patients == sum(s or 0 for s in sizes.values())
    assert {c for c, _ in got.opted_out} == set(sizes) & out
