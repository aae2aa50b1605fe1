"""Stand-in for ansible-test's pip bootstrap script, which it downloads from a host that may be unreachable.

ansible-test runs this in each new sanity virtualenv with get-pip's arguments (for example
`pip==24.2 --no-setuptools --no-wheel`). The interpreter's own ensurepip gives a first pip offline; that pip
then installs what was asked from the package index, as the downloaded script would.
"""

import subprocess
import sys

GET_PIP_ONLY = {"--no-setuptools": "setuptools", "--no-wheel": "wheel"}

# In a child process: ensurepip points PIP_CONFIG_FILE at /dev/null in its own process, which would hide the
# machine's pip configuration (index, certificates) from the installs below.
status = subprocess.call([sys.executable, "-m", "ensurepip", "--upgrade"])
pip = [sys.executable, "-m", "pip"]
if status == 0:
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
    status = subprocess.call(pip + ["install", "--upgrade", "--force-reinstall"] + args)
unwanted = [GET_PIP_ONLY[arg] for arg in sys.argv[1:] if arg in GET_PIP_ONLY]
if status == 0 and unwanted:
    status = subprocess.call(pip + ["uninstall", "--yes", "--quiet"] + unwanted)
sys.exit(status)
