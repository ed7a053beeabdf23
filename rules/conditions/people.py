"""Who the sender is to the desk: `known_customer` and `vip`."""

from __future__ import annotations

from dataclasses import dataclass

from tierdesk.rules.conditions.base import Facts, FlagCondition


@dataclass(frozen=True, slots=True)
class KnownCustomer(FlagCondition):
    """`known_customer: true`: the sender has written to the desk before."""

    key = "known_customer"

    def check(self, facts: Facts) -> bool:
        """Whether being known is what the rule asks for."""
        return facts.inp.known_customer == self.flag

    def explain(self, facts: Facts) -> tuple[bool, str]:
        """Whether the sender is known."""
        known = facts.inp.known_customer
        return known == self.flag, f"known_customer is {str(known).lower()}"


@dataclass(frozen=True, slots=True)
class Vip(FlagCondition):
    """`vip: true`: the sender is on the rules' VIP list."""

    key = "vip"

    def check(self, facts: Facts) -> bool:
        """Whether being a VIP is what the rule asks for."""
        return facts.vip == self.flag

    def explain(self, facts: Facts) -> tuple[bool, str]:
        """Whether the sender is a VIP."""
        who = facts.sender or "the sender"
        return facts.vip == self.flag, f"{who} is {'' if facts.vip else 'not '}a VIP"
