"""Loading the config file: YAML onto the typed Config, then the checks that need all of it.

An unknown or misspelt key is an error naming file:line; relative paths are
relative to the file; secrets (password files and variables) must exist for
the commands that use them.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from tierdesk.daemon.config import CONFIG_ENV, Config
from tierdesk.daemon.config_digest import digest_problems
from tierdesk.daemon.oauth2_settings import (
    oauth2_problems,
    oauth2_secret_sources,
    resolve_oauth2_paths,
)
from tierdesk.rules.yamlschema import bind
from tierdesk.rules.yamlsource import Problem, SourceError, load_yaml_file


def default_config() -> Config:
    """The embedded default: no external services at all."""
    return Config()


def load_config(
    path: Path | str | None = None,
    environ: dict[str, str] | None = None,
    require_secrets: bool = True,
) -> Config:
    """Load the config file named by `path`, $TIERDESK_CONFIG, or the embedded default.

    With `require_secrets`, every password file and variable must exist too
    (the daemon needs them; `tierdesk tickets list` does not).
    """
    environ = dict(os.environ) if environ is None else environ
    chosen = path or environ.get(CONFIG_ENV)
    if not chosen:
        return default_config()
    node = load_yaml_file(chosen)
    problems: list[Problem] = []
    config = bind(Config, node, problems)
    if config is not None:
        config = _resolve_paths(config, Path(chosen).parent, str(chosen))
        problems.extend(_check(config, str(chosen)))
        if require_secrets:
            problems.extend(secret_problems(config, environ))
    if problems or config is None:
        raise SourceError(problems)
    return config


def _check(config: Config, path: str) -> list[Problem]:
    support = config.support
    messages = [
        f"support address {a!r} is not an email address"
        for a in support.addresses
        if not _is_address(a)
    ]
    if not support.addresses:
        messages.append("support.addresses must name at least one address")
    if support.default_language not in support.languages:
        messages.append("support.default_language must be one of support.languages")
    url = config.storage.url
    if url and not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
        messages.append(f"storage.url {url!r}: use sqlite:///PATH or postgresql://...")
    smtp = config.smtp
    if (smtp.tls_cert is None) != (smtp.tls_key is None):
        messages.append("smtp: give both tls_cert and tls_key, or neither")
    messages += [
        f"smtp: {p} does not exist"
        for p in (smtp.tls_cert, smtp.tls_key)
        if p and not p.is_file()
    ]
    if smtp.require_starttls and smtp.tls_cert is None:
        messages.append("smtp.require_starttls needs tls_cert and tls_key")
    names = [m.name for m in config.imap]
    messages += [
        f"imap: two mailboxes are named {n!r}; names must differ"
        for n in sorted(set(names))
        if names.count(n) > 1
    ]
    for mailbox in config.imap:
        if (
            mailbox.oauth2 is None
            and mailbox.password is None
            and mailbox.password_file is None
            and mailbox.password_env is None
        ):
            messages.append(
                f"imap {mailbox.name!r}: give password_file or password_env"
            )
    messages += oauth2_problems(config)
    messages += digest_problems(config.digest, support.languages)
    return [Problem(path, None, m) for m in messages]


def _is_address(address: str) -> bool:
    return "@" in address and " " not in address.strip()


def secret_problems(config: Config, environ: dict[str, str]) -> list[Problem]:
    """Password files that do not exist and variables that are not set."""
    sources = [
        ("outgoing", config.outgoing.password_file, config.outgoing.password_env)
    ]
    sources += [
        (f"imap {m.name!r}", m.password_file, m.password_env) for m in config.imap
    ]
    sources.append(("support", config.support.secret_file, config.support.secret_env))
    sources += oauth2_secret_sources(config)
    problems = []
    for what, file, env in sources:
        if file is not None and not file.is_file():
            problems.append(
                Problem(
                    config.source, None, f"{what}: password_file {file} does not exist"
                )
            )
        if env is not None and env not in environ:
            problems.append(
                Problem(config.source, None, f"{what}: password_env ${env} is not set")
            )
    return problems


def _resolve_paths(config: Config, base: Path, source: str) -> Config:
    """Relative paths in a config file are relative to the file, not to the cwd."""

    def fix(p: Path | None) -> Path | None:
        return p if p is None or p.is_absolute() else base / p

    url = config.storage.url
    if (
        url
        and url.startswith("sqlite:///")
        and not Path(url[len("sqlite:///") :]).is_absolute()
    ):
        url = f"sqlite:///{base / url[len('sqlite:///') :]}"
    config = replace(
        config,
        storage=replace(config.storage, url=url),
        data_dir=fix(config.data_dir) or config.data_dir,
        templates_dir=fix(config.templates_dir),
        rules=fix(config.rules),
        outgoing=replace(
            config.outgoing,
            maildir=fix(config.outgoing.maildir),
            password_file=fix(config.outgoing.password_file),
        ),
        imap=[replace(m, password_file=fix(m.password_file)) for m in config.imap],
        support=replace(config.support, secret_file=fix(config.support.secret_file)),
        smtp=replace(
            config.smtp,
            unix_socket=fix(config.smtp.unix_socket),
            tls_cert=fix(config.smtp.tls_cert),
            tls_key=fix(config.smtp.tls_key),
        ),
        source=source,
    )
    return resolve_oauth2_paths(config, fix)


def read_secrets(
    file: Path | None, env: str | None, environ: dict[str, str]
) -> list[str]:
    """Every secret a file holds (one per line, the first is current), or the variable's."""
    if file is not None and file.exists():
        lines = file.read_text(encoding="utf-8").splitlines()
        return [line.strip() for line in lines if line.strip()]
    if env is not None and environ.get(env):
        return [environ[env]]
    return []


def read_secret(
    inline: str | None, file: Path | None, env: str | None, environ: dict[str, str]
) -> str | None:
    """A secret from its file (first line), environment variable, or inline value."""
    if file is not None:
        return (
            file.read_text(encoding="utf-8").splitlines()[0].strip()
            if file.exists()
            else None
        )
    if env is not None:
        return environ.get(env)
    return inline
