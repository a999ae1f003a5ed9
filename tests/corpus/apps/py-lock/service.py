import os

import six

STATUS = "locked and loaded"

if __name__ == "__main__":
    print(f"{STATUS} (six {six.__version__}, uid {os.getuid()})")
