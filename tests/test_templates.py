"""Templates: sandboxed and strict; a broken override never stops an acknowledgement."""

from __future__ import annotations

from pathlib import Path

import pytest
from tierdesk.daemon.outgoing.templating import TemplateFailure, Templates

CONTEXT = {
    "ticket": {
        "number": 7,
        "subject": "Printer",
        "status": "new",
        "tier": 1,
        "queue": "default",
    },
    "token": "[ACME #7]",
    "customer": {"name": "Alice", "email": "alice@customer.example"},
    "support": {"name": "ACME Support", "address": "support@example.com"},
    "message": {"subject": "Printer", "excerpt": "offline"},
}


def override(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / "tpl" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return tmp_path / "tpl"


def test_builtin_acknowledgement_renders_in_english_and_russian():
    templates = Templates(None, ("en", "ru"), "en")

    en = templates.render("ack", "en", CONTEXT)
    ru = templates.render("ack", "ru", CONTEXT)

    assert en.subject.strip() == "[ACME #7] Printer"
    assert "ticket 7" in en.text and en.html and "<strong>7</strong>" in en.html
    assert "зарегистрирован под номером 7" in ru.text
    assert ru.language == "ru"


def test_unknown_language_falls_back_to_the_default():
    assert Templates(None, ("en",), "en").render("ack", "de", CONTEXT).language == "en"


def test_admin_override_is_used(tmp_path):
    folder = override(
        tmp_path,
        "en/ack.txt",
        "Dear {{ customer.name }}, ticket {{ ticket.number }}.\n",
    )

    rendered = Templates(folder, ("en",), "en").render("ack", "en", CONTEXT)

    assert rendered.text == "Dear Alice, ticket 7.\n"


def test_override_with_syntax_error_is_reported_with_line_and_builtin_used(tmp_path):
    folder = override(
        tmp_path, "en/ack.txt", "Hello\n{% if customer.name %}\nunclosed\n"
    )

    templates = Templates(folder, ("en",), "en")

    assert len(templates.problems) == 1
    assert templates.problems[0].startswith(f"{folder / 'en/ack.txt'}:")
    assert "thank you for writing" in templates.render("ack", "en", CONTEXT).text


def test_override_with_undefined_variable_falls_back_to_builtin(tmp_path):
    folder = override(tmp_path, "en/ack.txt", "Hello {{ custmer.name }}\n")

    rendered = Templates(folder, ("en",), "en").render("ack", "en", CONTEXT)

    assert "thank you for writing" in rendered.text


def test_sandbox_refuses_attribute_escapes(tmp_path):
    folder = override(tmp_path, "en/ack.txt", "{{ ''.__class__.__mro__ }}\n")

    rendered = Templates(folder, ("en",), "en").render("ack", "en", CONTEXT)

    assert "class" not in rendered.text
    assert "thank you for writing" in rendered.text


def test_html_template_escapes_customer_text(tmp_path):
    context = dict(
        CONTEXT, ticket=dict(CONTEXT["ticket"], subject="<script>alert(1)</script>")
    )

    rendered = Templates(None, ("en",), "en").render("ack", "en", context)

    assert "<script>" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    assert "<script>" in rendered.text  # plain text is not HTML


def test_missing_template_everywhere_is_an_error():
    with pytest.raises(TemplateFailure):
        Templates(None, ("en",), "en").render("no-such-mail", "en", CONTEXT)
