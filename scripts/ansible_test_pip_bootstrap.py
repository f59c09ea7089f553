"""Offline replacement for the get-pip script that ``ansible-test`` downloads.

ansible-test bootstraps pip in each sanity virtual environment by running a get-pip script it
fetches from ci-files.testing.ansible.com, which this project's machines cannot reach. setup.sh
installs this file in ansible-test's cache under the name it looks for
(~/.ansible/test/cache/get_pip_<version>.py). It does the same job from local parts: pip from
the interpreter's bundled ensurepip wheel, then the requested pip version from the package index
this machine does reach. get-pip's own --no-setuptools/--no-wheel flags are dropped because
``pip install`` does not know them. ensurepip points PIP_CONFIG_FILE at /dev/null, so the
system CA bundle is passed explicitly.
"""

import ensurepip
import os
import subprocess
import sys

GET_PIP_ONLY_FLAGS = {"--no-setuptools", "--no-wheel"}
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def main() -> int:
    ensurepip.bootstrap()
    arguments = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_FLAGS]
    command = [sys.executable, "-m", "pip", "install"]
    if os.path.exists(CA_BUNDLE):
        command += ["--cert", CA_BUNDLE]
    return subprocess.call(command + arguments)


if __name__ == "__main__":
    sys.exit(main())
