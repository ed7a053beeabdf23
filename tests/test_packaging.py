"""The installed distribution: everything under `tierdesk.`, beside python-daemon's `daemon`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # a copy of the tree, so no stale build/ directory can slip old modules in
    source = out / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "*.egg-info", "__pycache__", "tierdesk-data"
        ),
    )
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
            str(source),
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

    # import every module of the installed tree: a package missing from
    # setup.cfg fails here, not on a user's server
    probe = (
        f"import sys; sys.path.insert(0, {str(target)!r});"
        "import daemon, importlib, pkgutil, tierdesk.daemon.outgoing.templating as t;"
        "import tierdesk;"
        "names = [m.name for m in pkgutil.walk_packages(tierdesk.__path__, 'tierdesk.')];"
        "[importlib.import_module(n) for n in names];"
        "print(daemon.DAEMON_CONTEXT,"
        f" all(sys.modules[n].__file__.startswith({str(target)!r}) for n in names),"
        " t.builtin_templates_dir().is_dir(), 'tierdesk.rules.handling.plan' in names)"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", probe],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["python-daemon", "True", "True", "True"]
