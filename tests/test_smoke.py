import subprocess
import sys

import ptyevidence


def test_version_flag_prints_package_version():
    """`python -m ptyevidence --version` prints the version the package reports."""
    out = subprocess.run(
        [sys.executable, "-m", "ptyevidence", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"ptyevidence {ptyevidence.__version__}"
