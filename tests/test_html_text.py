"""html_to_text: readable text from HTML-only mail."""

from __future__ import annotations

import time

import pytest
from tierdesk.parsers.html_text import html_to_text


def test_script_style_and_head_are_dropped() -> None:
    html = (
        "<html><head><title>Newsletter</title><style>p {color: red}</style></head>"
        "<body><script>alert('x')</script><p>Hello</p>"
        "<noscript>enable js</noscript></body>"
    )
    assert html_to_text(html) == "Hello"


def test_head_that_is_never_closed_ends_at_body() -> None:
    assert html_to_text("<head><title>T</title><body><p>Hi</p>") == "Hi"


def test_paragraphs_are_separated_by_a_blank_line() -> None:
    assert (
        html_to_text("<p>Hi team,</p><p>&nbsp;</p><p>it broke.</p>")
        == "Hi team,\n\nit broke."
    )


def test_br_and_divs_become_line_breaks() -> None:
    html = "<div>Anna Berg</div><div>Globex<br>Berlin<br/>Germany</div>"
    assert html_to_text(html) == "Anna Berg\nGlobex\nBerlin\nGermany"


def test_list_items_become_dashes_and_nested_lists_are_indented() -> None:
    html = (
        "<p>Tried:</p><ul><li>cache<ul><li>Chrome</li><li>Firefox</li></ul></li>"
        "<li>VPN</li></ul>"
    )
    assert html_to_text(html) == "Tried:\n\n- cache\n  - Chrome\n  - Firefox\n- VPN"


def test_link_keeps_its_text_and_gains_its_url() -> None:
    html = 'See <a href="https://acme.example/kb/42">the article</a>.'
    assert html_to_text(html) == "See the article (https://acme.example/kb/42)."


@pytest.mark.parametrize(
    "html",
    [
        '<a href="https://acme.example/">https://acme.example</a>',
        '<a href="mailto:support@acme.example">support@acme.example</a>',
    ],
)
def test_link_whose_text_is_the_url_is_not_repeated(html: str) -> None:
    assert "(" not in html_to_text(html)


def test_links_to_scripts_and_anchors_add_nothing() -> None:
    html = '<a href="javascript:void(0)">Click</a> <a href="#top">Top</a>'
    assert html_to_text(html) == "Click Top"


def test_entities_are_decoded() -> None:
    assert html_to_text(
        "<p>caf&eacute; &amp; cr&#232;me &lt;3 &#8364;5&nbsp;off</p>"
    ) == ("café & crème <3 €5 off")


def test_whitespace_is_collapsed_but_pre_is_kept() -> None:
    html = "<p>  lots \n\n of    space </p><pre>  indented\n    more</pre>"
    assert html_to_text(html) == "lots of space\n\n  indented\n    more"


def test_table_cells_are_separated() -> None:
    html = (
        "<table><tr><td>Order</td><td>5512</td></tr>"
        "<tr><td>Status</td><td>lost</td></tr></table>"
    )
    assert html_to_text(html) == "Order 5512\nStatus lost"


@pytest.mark.parametrize(
    "html",
    [
        "",
        "<",
        "<a href=",
        "<!--",
        "<![CDATA[x",
        "</p></p></div>",
        "<script>never closed",
        "&#xFFFFFFFF; &#0; &bogus;",
        "<" * 10000,
        "<p>" * 5000,
        "\x00\ud800",
    ],
)
def test_broken_markup_never_raises(html: str) -> None:
    assert isinstance(html_to_text(html), str)


def test_marked_section_that_crashes_htmlparser_falls_back_to_plain_text() -> None:
    # Python 3.11's HTMLParser raises AssertionError on "<![" plus a non-name.
    assert html_to_text("<p>Hi</p><![ if mso]><p>there &amp; you</p>") == (
        "Hi there & you"
    )


def test_outlook_conditional_comments_are_harmless() -> None:
    html = "<p>Steps:</p><![if !supportLists]>1. <![endif]><p>Restart</p>"
    assert html_to_text(html) == "Steps:\n\n1.\n\nRestart"


@pytest.mark.parametrize(
    "unit",
    ['<a href="', "<a<a", "<!--x", "<![CDATA[]>", "<a t='\">", "<head></script>"],
)
def test_hostile_markup_does_not_take_quadratic_time(unit: str) -> None:
    # Python 3.11's HTMLParser needed minutes for 200 KB of some of these.
    html = unit * (200_000 // len(unit))
    started = time.process_time()
    html_to_text(html)
    assert time.process_time() - started < 5  # linear: well under 1 s
