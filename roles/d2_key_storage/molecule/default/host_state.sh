#!/bin/sh
# What a D.2 run must leave as it found it: every file under /etc (sha256), the installed packages, the kernel's
# FIPS switch and the softhsm2 token store. One sorted line each, so two runs compare line by line.
find /etc -xdev -type f -print0 | sort -z | xargs -0 sha256sum
dpkg-query -W -f 'package ${Package} ${Version}\n'
echo "fips_enabled $(cat /proc/sys/crypto/fips_enabled 2>/dev/null || echo absent)"
[ -d /var/lib/softhsm/tokens ] && find /var/lib/softhsm/tokens -type f -print0 | sort -z | xargs -0 -r sha256sum
true
