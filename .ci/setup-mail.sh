#!/usr/bin/env bash
# Mail integration prerequisites: Debian's Postfix and NSD (authoritative DNS).
# Run as root by .ci/run after `apt-get update`. Installs only: the tests start their
# own instances on 127.0.0.1 with non-standard ports and temporary config directories,
# so the system services are kept from starting (policy-rc.d) and stopped if running.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "postfix postfix/mailname string localhost" | debconf-set-selections

policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod 0755 "$policy"
  created_policy=1
fi
apt-get install -y -qq --no-install-recommends postfix nsd >/dev/null
if [ "$created_policy" = 1 ]; then
  rm -f "$policy"
fi

# Nothing system-wide may hold port 25/53 or a queue the tests could confuse with theirs.
if [ -x /usr/sbin/postfix ] && /usr/sbin/postfix status >/dev/null 2>&1; then
  /usr/sbin/postfix stop || true
fi
if pgrep -x nsd >/dev/null 2>&1; then
  nsd-control stop >/dev/null 2>&1 || { [ -f /run/nsd/nsd.pid ] && kill "$(cat /run/nsd/nsd.pid)"; } || true
fi
/usr/sbin/postconf -d mail_version
# nsd -v keeps writing after its first line; head would close the pipe and SIGPIPE
# nsd, which pipefail turns into a failed CI run. sed reads to the end.
/usr/sbin/nsd -v 2>&1 | sed -n 1p
