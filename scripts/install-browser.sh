#!/usr/bin/env bash
# Installs what the gallery's browser test (tests/python/test_gallery_browser.py) needs:
# Debian's chromium and its WebDriver, chromium-driver. Needs root (CI runs as root);
# does nothing when both are there already.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    exit 0
fi
if [[ $(id -u) != 0 ]]; then
    echo "install-browser: run as root (apt-get install chromium chromium-driver)" >&2
    exit 1
fi
echo "install-browser: installing chromium and chromium-driver"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q chromium chromium-driver
