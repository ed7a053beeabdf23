"""The installed distribution: everything under `tierdesk.`, beside python-daemon's `daemon`."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        cwd=out,
    )
    [built] = out.glob("tierdesk-*.whl")
    return built


def test_wheel_puts_every_package_under_the_tierdesk_name(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names}

    assert top_level == {"tierdesk", wheel.name.split("-py3")[0] + ".dist-info"}
    assert "tierdesk/daemon/cli.py" in names
    assert "tierdesk/templates/en/ack.txt" in names
    assert "tierdesk/rules/example-rules.yaml" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert (
        "tierdesk = tierdesk.daemon.cli:main"
        in zipfile.ZipFile(wheel).read(entry_points).decode()
    )


def test_installed_tierdesk_works_beside_python_daemons_daemon_package(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
        + ["--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    # python-daemon installs a top-level package called `daemon`
    (target / "daemon").mkdir()
    (target / "daemon" / "__init__.py").write_text("DAEMON_CONTEXT = 'python-daemon'\n")

    probe = (
        f"import sys; sys.path.insert(0, {str(target)!r});"
        "import daemon, tierdesk.daemon.cli, tierdesk.daemon.outgoing.templating as t;"
        "print(daemon.DAEMON_CONTEXT,"
        f" tierdesk.daemon.cli.__file__.startswith({str(target)!r}),"
        " t.builtin_templates_dir().is_dir())"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", probe],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["python-daemon", "True", "True"]
