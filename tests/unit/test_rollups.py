from api.tallies.rollups import Delta, Numbers, Totals, delta, sum_tallies


def test_first_tally_counts_the_tps_in() -> None:
    change = delta(None, Numbers({1: 120, 2: 80}, valid=200, invalid=3, total=203, voters_total=203))
    assert change == Delta(tps_in=1, votes={1: 120, 2: 80}, valid=200, invalid=3, total=203, voters_total=203)


def test_correction_moves_only_the_difference() -> None:
    ocr = Numbers({1: 948, 2: 80}, valid=1028, invalid=3, total=1031)
    fixed = Numbers({1: 58, 2: 80}, valid=138, invalid=3, total=141)
    change = delta(ocr, fixed)
    assert change.tps_in == 0
    assert change.votes == {1: -890, 2: 0}
    assert (change.valid, change.invalid, change.total) == (-890, 0, -890)


def test_withdrawing_a_tally_takes_the_tps_out() -> None:
    change = delta(Numbers({1: 5}, valid=5), None)
    assert change.tps_in == -1
    assert change.votes == {1: -5}


def test_unknown_numbers_count_as_zero_and_unchanged_is_zero() -> None:
    numbers = Numbers({1: 10}, valid=None)
    assert delta(numbers, numbers).is_zero()
    assert not delta(None, numbers).is_zero()


def test_sum_from_scratch_matches_applied_deltas() -> None:
    tallies = [Numbers({1: 10, 2: 5}, 15, 1, 16), Numbers({2: 7}, 7, 0, 7), Numbers({1: 3}, 3, None, None)]
    totals = Totals()
    previous: Numbers | None = None
    for numbers in tallies:  # the same TPS corrected twice, then another TPS
        totals.add(delta(previous, numbers))
        previous = numbers
    assert totals == Totals(tps_in=1, votes={1: 3, 2: 0}, valid=3, invalid=0, total=0, voters_total=0)
    assert sum_tallies(tallies).votes == {1: 13, 2: 12}
