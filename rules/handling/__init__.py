"""Deciding what a message does, apart from doing it: one pure handling plan per message.

`plan_message` takes the message as parsed and classified, who it comes from,
the facts the database gave (its ticket, counts, ...), the routing decision,
the settings and `now`, and returns a `Plan`: which ticket, what to store,
the changes and events, the mails to send as specs, and the outcome with its
reason. Nothing here reads a clock, a file or the database; storage carries
a plan out in one transaction.
"""
