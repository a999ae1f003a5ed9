"""The cairn CLI against a daemon on another machine (CAIRN_HOST=tcp://HOST:PORT): the Engine
API's client side for build, run, ps and images (cli.py is the entry)."""
