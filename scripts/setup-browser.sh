#!/bin/sh
# Installs the browser the web page's tests drive (Debian's chromium and
# chromedriver) when either is missing, then prints both versions.
# Idempotent: with both present it installs nothing.
set -eu

CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver

if [ ! -x "$CHROMIUM" ] || [ ! -x "$CHROMEDRIVER" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=""
    elif command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "setup-browser: chromium or chromedriver is missing and this user is not root and has no sudo;" >&2
        echo "setup-browser: install them with: apt-get install -y chromium chromium-driver" >&2
        exit 1
    fi
    echo "setup-browser: installing chromium and chromium-driver"
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium chromium-driver
fi

# Debian's wrapper script complains about its own memory check on stderr.
"$CHROMIUM" --version 2>/dev/null
"$CHROMEDRIVER" --version
