import sys

import six

GREETING = "hello from a venv"

print(f"{GREETING}: six {six.__version__} in {sys.prefix}")
