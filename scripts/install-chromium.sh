#!/usr/bin/env bash
# Debian's Chromium and fonts for the browser tests (Playwright drives it; never `playwright install`).
set -euo pipefail
# CJK and emoji fonts so the UI renders the report's text (and screenshots show it).
if [ -x /usr/bin/chromium ] && fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
echo "setup: installing Debian's chromium for the browser tests"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium fonts-noto-cjk fonts-noto-color-emoji >/dev/null
