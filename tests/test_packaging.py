"""The wheel build matrix is the one the project intends to ship.

`cibuildwheel --print-build-identifiers` reads [tool.cibuildwheel] in
pyproject.toml and lists every wheel a release builds; this compares that list,
per platform, with the intended one: CPython 3.10-3.15 (the versions NumPy 2
ships wheels for), no free-threaded or PyPy builds; Linux x86_64 and aarch64
for glibc (manylinux_2_28) and musl; macOS x86_64 and arm64; Windows AMD64.

Needs the project's pyproject.toml (the tests' parent directory, or
FASTCONV_SOURCE_DIR when the tests run from a copy outside the source tree,
as tools/check_wheel.sh does) and cibuildwheel 4.3 or later installed in
the interpreter running the tests; skipped without either.
"""
import os
import re
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

# the release .github/workflows/wheels.yml uses; older ones list fewer CPythons
MINIMUM_CIBUILDWHEEL = (4, 3)
PYTHONS = ["cp310", "cp311", "cp312", "cp313", "cp314", "cp315"]
EXPECTED = {
    "linux": [f"{py}-{libc}_{arch}" for libc in ("manylinux", "musllinux")
              for arch in ("x86_64", "aarch64") for py in PYTHONS],
    "macos": [f"{py}-macosx_{arch}" for py in PYTHONS for arch in ("x86_64", "arm64")],
    "windows": [f"{py}-win_amd64" for py in PYTHONS],
}


def source_dir():
    candidates = [os.environ.get("FASTCONV_SOURCE_DIR"), Path(__file__).resolve().parent.parent]
    for candidate in filter(None, candidates):
        if (Path(candidate) / "pyproject.toml").is_file() and (Path(candidate) / "setup.py").is_file():
            return Path(candidate)
    pytest.skip("the fastconv source tree (pyproject.toml) is not available; set FASTCONV_SOURCE_DIR")


def cibuildwheel_command():
    """`python -m cibuildwheel` of this interpreter, when it has a recent enough one."""
    try:
        installed = version("cibuildwheel")
    except PackageNotFoundError:
        pytest.skip("cibuildwheel is not installed")
    release = tuple(int(part) for part in re.findall(r"\d+", installed)[:2])
    if release < MINIMUM_CIBUILDWHEEL:
        # older releases lack test-sources and do not know every CPython above
        pytest.skip(f"cibuildwheel {installed} is older than {'.'.join(map(str, MINIMUM_CIBUILDWHEEL))} "
                    "(it needs Python >= 3.11)")
    return [sys.executable, "-m", "cibuildwheel"]


@pytest.mark.parametrize("platform", sorted(EXPECTED))
def test_cibuildwheel_builds_the_intended_wheels(platform, tmp_path):
    project = source_dir()
    command = cibuildwheel_command() + ["--print-build-identifiers", "--platform", platform, str(project)]
    # CIBW_* variables in the caller's environment would change the answer; the file alone decides.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIBW_")}
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{command} failed ({result.returncode}):\n{result.stderr}"
    identifiers = sorted(result.stdout.split())
    expected = sorted(EXPECTED[platform])
    assert identifiers == expected, (
        f"platform={platform}: cibuildwheel would build {identifiers}\n"
        f"intended {expected}\nextra {sorted(set(identifiers) - set(expected))}\n"
        f"missing {sorted(set(expected) - set(identifiers))}")


def test_pyproject_ships_the_stubs_and_tests_the_installed_wheel():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    config = tomllib.loads((source_dir() / "pyproject.toml").read_text(encoding="utf-8"))
    package_data = config["tool"]["setuptools"]["package-data"]["fastconv"]
    assert {"py.typed", "*.pyi"} <= set(package_data), f"package-data={package_data}"
    cibw = config["tool"]["cibuildwheel"]
    # tests copied into a temporary directory, so they import the installed wheel
    assert "tests" in cibw["test-sources"], f"test-sources={cibw.get('test-sources')}"
    assert "pytest" in cibw["test-command"] and "{project}" not in cibw["test-command"], (
        f"test-command={cibw['test-command']!r}")
