"""Account concurrency as AWS counts it: reservations, the shared pool, throttles (no processes)."""

from __future__ import annotations

import pytest

from local.concurrency import (
    ACCOUNT_CONCURRENCY,
    UNRESERVED_MINIMUM,
    ConcurrencyAccount,
    ConcurrencyLimitError,
)


def test_an_unreserved_function_runs_up_to_the_account_limit() -> None:
    # GIVEN the default account and one function without a reservation
    account = ConcurrencyAccount()
    account.register("listener", None)
    # WHEN 1,001 invocations start at once
    admitted = [account.try_start("listener") for _ in range(ACCOUNT_CONCURRENCY + 1)]
    # THEN the first 1,000 run and only the last one is throttled
    assert admitted.count(True) == ACCOUNT_CONCURRENCY == 1000
    assert admitted[-1] is False
    # AND once one finishes, the next is admitted
    account.finish("listener")
    assert account.try_start("listener")


def test_a_reserved_function_is_throttled_at_its_reservation_only() -> None:
    account = ConcurrencyAccount(limit=200)
    account.register("listener", 1)
    account.register("processor", None)
    assert account.try_start("listener")
    assert not account.try_start("listener")  # its reservation, not the account, is the limit
    assert account.in_flight("listener") == 1
    account.finish("listener")
    assert account.try_start("listener")


def test_unreserved_functions_share_what_reservations_leave() -> None:
    # GIVEN an account of 150 with 50 reserved for one function
    account = ConcurrencyAccount(limit=150)
    account.register("reserved", 50)
    account.register("a", None)
    account.register("b", None)
    assert account.unreserved_limit == 100
    # WHEN two unreserved functions take 60 and 40
    assert all(account.try_start("a") for _ in range(60))
    assert all(account.try_start("b") for _ in range(40))
    # THEN both are throttled now, while the reserved function still has all of its 50
    assert not account.try_start("a")
    assert not account.try_start("b")
    assert all(account.try_start("reserved") for _ in range(50))
    assert not account.try_start("reserved")
    # AND a finished invocation of one unreserved function frees room for the other
    account.finish("a")
    assert account.try_start("b")


def test_reserved_zero_throttles_every_invocation() -> None:
    account = ConcurrencyAccount()
    account.register("off", 0)
    assert not account.try_start("off")


def test_a_reservation_must_leave_the_minimum_unreserved() -> None:
    # GIVEN an account of 1,000 with 850 already reserved
    account = ConcurrencyAccount()
    account.register("big", 850)
    # WHEN another function reserves 51 (leaving 99) THEN it is refused as AWS does
    with pytest.raises(ConcurrencyLimitError) as caught:
        account.register("more", 51)
    message = str(caught.value)
    assert "'more'" in message and "51" in message and "leave 99" in message
    assert f"at least {UNRESERVED_MINIMUM} unreserved" in message
    assert "--account-concurrency" in message
    # AND 50 (leaving exactly 100) is fine
    account.register("more", 50)
    assert account.unreserved_limit == UNRESERVED_MINIMUM


@pytest.mark.parametrize("limit", [0, -5])
def test_the_account_limit_must_be_positive(limit: int) -> None:
    with pytest.raises(ConcurrencyLimitError, match="at least 1"):
        ConcurrencyAccount(limit=limit)


def test_a_negative_reservation_and_a_second_registration_are_refused() -> None:
    account = ConcurrencyAccount()
    with pytest.raises(ConcurrencyLimitError, match="negative"):
        account.register("fn", -1)
    account.register("fn", None)
    with pytest.raises(ConcurrencyLimitError, match="already registered"):
        account.register("fn", None)


def test_unregistering_returns_the_reservation_and_the_running_share() -> None:
    account = ConcurrencyAccount(limit=300)
    account.register("reserved", 100)
    account.register("gone", None)
    assert all(account.try_start("gone") for _ in range(200))
    account.register("other", None)
    assert not account.try_start("other")
    # WHEN both are unregistered (their invocations are cut short by close())
    account.unregister("reserved")
    account.unregister("gone")
    account.finish("gone")  # a late finish of an unregistered function is harmless
    # THEN the whole account is free again for the remaining function
    assert account.unreserved_limit == 300
    assert all(account.try_start("other") for _ in range(300))
