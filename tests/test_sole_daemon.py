"""On SQLite one daemon at a time: a second `tierdesk run` refuses to start, and says why."""

from __future__ import annotations

from pathlib import Path

from tests.support.daemon_process import DaemonProcess

EX_CONFIG = 78


def second_daemon_on(first: DaemonProcess, workdir: Path) -> DaemonProcess:
    """A daemon of its own (its own port and log) on the first one's database."""
    workdir.mkdir()
    return DaemonProcess(workdir, first.storage_url)


def test_a_second_daemon_on_the_same_sqlite_file_refuses_to_start(tmp_path, sqlite_url):
    first = DaemonProcess(tmp_path, sqlite_url).start()
    try:
        second = second_daemon_on(first, tmp_path / "second")
        done = second.run_to_exit()

        assert done.returncode == EX_CONFIG
        assert "another tierdesk daemon (pid" in done.stderr
        assert f"pid {first.proc.pid}" in done.stderr
        assert "postgresql://" in done.stderr
        assert first.proc.poll() is None  # the first one is untouched
    finally:
        first.stop()


def test_a_killed_daemon_does_not_keep_the_next_one_out(tmp_path, sqlite_url):
    first = DaemonProcess(tmp_path, sqlite_url).start()
    first.kill()

    second = second_daemon_on(first, tmp_path / "second").start()
    try:
        assert second.proc.poll() is None
    finally:
        second.stop()


def test_inject_runs_beside_the_daemon(tmp_path, sqlite_url):
    daemon = DaemonProcess(tmp_path, sqlite_url).start()
    try:
        message = Path(__file__).parent / "fixtures" / "flow" / "new_request.eml"
        done = daemon.cli("inject", str(message))

        assert done.returncode == 0, done.stderr.decode()
        assert b'"outcome": "new_ticket"' in done.stdout
    finally:
        daemon.stop()
