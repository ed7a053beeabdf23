"""Jinja2 templates of outgoing mail: sandboxed, strict, with the built-ins as a safety net.

A mail is up to three files per language: `NAME.subject.txt`, `NAME.txt` and
optionally `NAME.html`, looked up in the admin's override directory first and
then in the built-in `templates/`. An override that does not compile, or
fails to render, is reported with file:line and the built-in one is used, so
a typo never stops acknowledgements.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    select_autoescape,
)
from jinja2.sandbox import ImmutableSandboxedEnvironment

log = logging.getLogger("tierdesk.templates")

MAX_TEMPLATE_BYTES = 64 * 1024
MAX_RENDERED_CHARS = 200_000


class TemplateFailure(Exception):
    """No usable template for a mail, even among the built-ins."""


@dataclass(frozen=True)
class RenderedMail:
    """The rendered parts of one outgoing mail."""

    subject: str
    text: str
    html: str | None
    language: str


def builtin_templates_dir() -> Path:
    """The templates shipped with tierdesk (inside the wheel, or beside the source tree)."""
    # daemon/outgoing/ -> the project's templates/ (tierdesk/templates/ once installed)
    candidate = Path(__file__).resolve().parents[2] / "templates"
    if candidate.is_dir():
        return candidate
    raise TemplateFailure(f"built-in templates not found at {candidate}")


class Templates:
    """The template set of one configuration: overrides first, then built-ins."""

    def __init__(
        self,
        override_dir: Path | None,
        languages: tuple[str, ...],
        default_language: str,
    ) -> None:
        self.languages = languages
        self.default_language = default_language
        self.problems: list[str] = []
        self._builtin = self._environment(
            FileSystemLoader(str(builtin_templates_dir()))
        )
        self._override = None
        if override_dir is not None:
            good = self._check_overrides(override_dir)
            self._override = self._environment(
                _OnlyLoader(FileSystemLoader(str(override_dir)), good)
            )

    @staticmethod
    def _environment(loader: BaseLoader) -> ImmutableSandboxedEnvironment:
        return ImmutableSandboxedEnvironment(
            loader=loader,
            undefined=StrictUndefined,
            autoescape=select_autoescape(["html", "htm"], default_for_string=False),
            keep_trailing_newline=True,
        )

    def _check_overrides(self, override_dir: Path) -> set[str]:
        """Compile every override; the broken ones are reported and left out."""
        env = self._environment(FileSystemLoader(str(override_dir)))
        good = set()
        for path in sorted(override_dir.rglob("*")):
            if not path.is_file() or path.suffix not in (".txt", ".html"):
                continue
            name = path.relative_to(override_dir).as_posix()
            problem = _compile_problem(env, name, path)
            if problem:
                self.problems.append(problem)
                log.error("template %s; using the built-in one", problem)
            else:
                good.add(name)
        return good

    def render(self, name: str, language: str, context: dict[str, Any]) -> RenderedMail:
        """Render mail `name` in `language` (falling back to the default language)."""
        for lang in dict.fromkeys([language, self.default_language, "en"]):
            subject = self._render_part(f"{lang}/{name}.subject.txt", context)
            text = self._render_part(f"{lang}/{name}.txt", context)
            if subject is None or text is None:
                continue
            html = self._render_part(f"{lang}/{name}.html", context)
            return RenderedMail(subject=subject, text=text, html=html, language=lang)
        raise TemplateFailure(f"no template '{name}' for language {language!r}")

    def _render_part(self, path: str, context: dict[str, Any]) -> str | None:
        for env in (self._override, self._builtin):
            if env is None:
                continue
            try:
                template = env.get_template(path)
            except TemplateNotFound:
                continue
            try:
                return template.render(context)[:MAX_RENDERED_CHARS]
            except TemplateError as exc:
                if env is self._builtin:
                    raise TemplateFailure(f"built-in template {path}: {exc}") from exc
                log.error(
                    "template %s failed to render (%s); using the built-in one",
                    path,
                    exc,
                )
        return None


class _OnlyLoader(BaseLoader):
    """A loader that hides the templates that failed to compile."""

    def __init__(self, inner: FileSystemLoader, allowed: set[str]) -> None:
        self.inner = inner
        self.allowed = allowed

    def get_source(
        self, environment: Any, template: str
    ) -> tuple[str, str | None, Any]:
        if template not in self.allowed:
            raise TemplateNotFound(template)
        return self.inner.get_source(environment, template)


def _compile_problem(
    env: ImmutableSandboxedEnvironment, name: str, path: Path
) -> str | None:
    if path.stat().st_size > MAX_TEMPLATE_BYTES:
        return f"{path}: larger than {MAX_TEMPLATE_BYTES} bytes"
    try:
        env.get_template(name)
    except TemplateSyntaxError as exc:
        return f"{path}:{exc.lineno}: {exc.message}"
    except (TemplateError, UnicodeDecodeError) as exc:
        return f"{path}: {exc}"
    return None
