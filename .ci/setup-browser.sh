#!/usr/bin/env bash
# Debian's chromium for the Playwright browser tests (Playwright's own browser download
# is not available here; tests launch /usr/bin/chromium).
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null
fi
/usr/bin/chromium --version
