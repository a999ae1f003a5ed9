"""A group of click options handed to a command as one keyword argument (a dict), so that
a command's signature grows by one name per group (run.py's meta and fs groups)."""

from __future__ import annotations

import functools


def option_group(keyword: str, options, names):
    """A decorator adding `options` to a command; their values (named `names`) reach the
    callback as one dict, `keyword`."""

    def decorate(f):
        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            group = {name: kwargs.pop(name) for name in names}
            return f(*args, **{keyword: group}, **kwargs)

        for option in reversed(options):
            wrapper = option(wrapper)
        return wrapper

    return decorate
