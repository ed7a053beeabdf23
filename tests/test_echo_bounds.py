"""What automatic mail echoes of a sender's words costs no more for a huge subject or name.

The link patterns backtrack over a long run of letters: a one-word Subject
cut at the 64 KB header cap held the pipeline for over a minute while the
acknowledgement was composed. Only the start of a text is read now.
"""

from __future__ import annotations

import subprocess
import sys

from tierdesk.rules.handling.echo import NAME_CHARS, SUBJECT_CHARS, safe_echo

# Not a timing: the bounded call takes milliseconds, the unbounded one minutes;
# the subprocess is only stopped so that a regression fails instead of hanging.
HANG = 60


def echo_in_a_subprocess(text_expression: str, limit: int) -> str:
    code = (
        "from tierdesk.rules.handling.echo import safe_echo\n"
        f"print(safe_echo({text_expression}, {limit}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        timeout=HANG,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_subject_of_one_huge_word_is_echoed_cut_short():
    echoed = echo_in_a_subprocess("'x' * 200_000", SUBJECT_CHARS)

    assert echoed == "x" * (SUBJECT_CHARS - 1) + "…"


def test_a_display_name_of_one_huge_word_without_an_at_sign_is_echoed_cut_short():
    echoed = echo_in_a_subprocess("'a.b' * 70_000", NAME_CHARS)

    assert len(echoed) <= NAME_CHARS


def test_a_link_at_the_edge_of_what_is_read_is_still_removed():
    text = (
        "Printer " * 39 + "http://evil.test/verify now"
    )  # the link straddles the edge

    assert "evil" not in safe_echo(text, NAME_CHARS * 8)
    assert "http" not in safe_echo(text, 80)
