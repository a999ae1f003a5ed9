#!/bin/sh
set -e
# the usual pattern: options go to the app, anything else runs as given
if [ "$1" = "app" ]; then
    shift
    echo "entrypoint: starting app in $APP_MODE mode with $*"
    exit 0
fi
exec "$@"
