#!/bin/sh
echo "app $(cat /etc/app-release), env $APP_VERSION"
