"""The README's "Install on a server" steps, run as written on a fresh venv under a prefix.

A fresh virtualenv gets `pip install '/path/to/tierdesk[postgres]'` (this
checkout) with `python-daemon` beside it, whose top-level package is named
`daemon` as ours was before it moved under `tierdesk`; then the README's
lines run in order (db upgrade, check-config on a fresh data directory),
and the unit's own ExecStartPre and ExecStart start the daemon, which takes
a mail.
"""

from __future__ import annotations

import os
import re
import signal
import smtplib
import subprocess
import sys
import time
from pathlib import Path

from tests.support.install_steps import readme_block, translate, unit_commands
from tests.support.ports import free_port

CHECKOUT = Path(__file__).resolve().parent.parent
REQUEST = (CHECKOUT / "tests/fixtures/flow/new_request.eml").read_bytes()


def run(
    command: str, env: dict[str, str], cwd: Path = CHECKOUT
) -> subprocess.CompletedProcess:
    """One step, in the checkout as the README's relative paths assume."""
    done = subprocess.run(
        ["bash", "-c", command],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, (
        f"README step failed ({done.returncode}): {command}\n"
        f"{done.stdout.decode()}{done.stderr.decode()}"
    )
    return done


def edit_config(path: Path, prefix: Path, smtp_port: int, relay_port: int) -> None:
    """What an admin edits: where the data lives (under the prefix), ports, the relay."""
    text = path.read_text().replace("/var/lib/tierdesk", f"{prefix}/var/lib/tierdesk")
    text = text.replace("port: 2525", f"port: {smtp_port}")
    text = re.sub(
        r"(outgoing:\n(?:  .*\n)*?)  host: localhost\n  port: 25\n",
        rf"\1  host: 127.0.0.1\n  port: {relay_port}\n",
        text,
    )
    path.write_text(text)


def test_the_readme_server_install_runs_as_written_beside_python_daemon(
    tmp_path, relay_sink
):
    prefix = tmp_path / "root"
    for system_dir in ("usr/local/bin", "etc/systemd/system"):
        (prefix / system_dir).mkdir(parents=True)
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    ours = str(Path(sys.executable).parent)  # the tests' venv: not the one being made
    env["PATH"] = ":".join(p for p in env["PATH"].split(":") if p != ours)
    steps = translate(readme_block(CHECKOUT / "README.md"), prefix, CHECKOUT)
    venv_python = prefix / "opt/tierdesk/bin/python"
    smtp_port = free_port()

    for n, step in enumerate(steps.shell):
        run(step.command, env)
        if n == 0:  # the venv exists: put python-daemon in it before anything runs
            run(f"{venv_python} -m pip install --quiet python-daemon", env)
        if step.then_edit:
            edit_config(
                prefix / "etc/tierdesk/tierdesk.yaml",
                prefix,
                smtp_port,
                relay_sink.port,
            )

    both = run(  # outside the checkout, whose own daemon/ folder would come first
        f"{venv_python} -c 'import daemon, tierdesk.daemon.cli; "
        "daemon.DaemonContext; print(daemon.__file__)'",
        env,
        cwd=tmp_path,
    )
    assert "/site-packages/daemon/" in both.stdout.decode()  # python-daemon's own
    assert steps.start_unit
    unit_env, pre, start = unit_commands(
        prefix / "etc/systemd/system/tierdesk.service", prefix
    )
    daemon_env = {**env, **unit_env}
    for command in pre:
        run(command, daemon_env)
    proc = subprocess.Popen(start.split(), env=daemon_env, stderr=subprocess.PIPE)
    try:
        _wait_listening(smtp_port, proc)
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
            smtp.sendmail("alice@customer.example", ["support@acme.example"], REQUEST)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    listed = run(f"{prefix}/usr/local/bin/tierdesk spool list --json", daemon_env)
    assert "request-1@customer.example" in listed.stdout.decode()


def _wait_listening(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        try:
            smtplib.SMTP("127.0.0.1", port, timeout=2).quit()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"the daemon did not listen on {port}")
