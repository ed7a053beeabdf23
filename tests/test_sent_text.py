"""Stripping what we sent from an agent's reply: by the text itself, whatever the client wrote."""

from __future__ import annotations

from tierdesk.parsers.sent_text import strip_sent

NOTICE = """New ticket 7 from Alice Example <alice@customer.example>
Tier 1 · queue default · priority normal

Hello,

the printer on floor 3 has been offline since this morning, and nobody
on this floor can print the quarterly report that is due today.

Thanks,
Alice
--
Reply to this mail to answer the customer (your quoted text is removed)."""


def test_a_quoted_and_rewrapped_notice_goes_with_the_header_above_it():
    reply = """We replaced the toner.

Le lun. 2 nov. 2026 à 09:14, ACME Support <support@example.com> a écrit :
> New ticket 7 from Alice Example <alice@customer.example>
> Tier 1 · queue default · priority normal
>
> Hello,
>
> the printer on floor 3 has been offline since this morning, and
> nobody on this floor can print the quarterly report that is due
> today.
>
> Thanks,
> Alice"""

    assert strip_sent(reply, [NOTICE]) == "We replaced the toner."


def test_the_agents_lines_between_quoted_blocks_stay():
    reply = """> the printer on floor 3 has been offline since this morning, and nobody
> on this floor can print the quarterly report that is due today.

Which model is it? The sticker is on the back.

> Thanks,
> Alice"""

    assert (
        strip_sent(reply, [NOTICE]) == "Which model is it? The sticker is on the back."
    )


def test_a_short_line_of_the_agents_own_is_not_taken_for_a_quote():
    reply = "Hello,\n\nit works again.\n\nThanks,\nBob"

    assert strip_sent(reply, [NOTICE]) == reply


def test_a_single_field_like_line_of_the_agent_is_kept_above_a_quote():
    reply = "Note: the toner is on order.\n\nReply to this mail to answer the customer (your quoted text is removed)."

    assert strip_sent(reply, [NOTICE]) == "Note: the toner is on order."


def test_without_anything_sent_the_text_is_untouched():
    assert strip_sent("anything at all", []) == "anything at all"
