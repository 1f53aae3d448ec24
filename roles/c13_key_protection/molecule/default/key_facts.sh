#!/bin/sh
# The private keys under the folders C.13 walks, as the host's own tools see them, one line per key:
#   <path> <mode> <owner>:<group> <sha256 of the content> <openssl: readable|unreadable> <nobody: yes|no> <www-data: yes|no>
# A key is a file with a PEM private-key header; openssl pkey says whether OpenSSL can still load it, and
# runuser + test -r ask the kernel whether an unprivileged user (nobody) or the web servers' worker user
# (www-data) could read it. Sorted, so two runs compare line by line.
for dir in /etc/ssl/private /etc/nginx /etc/apache2; do
  [ -d "$dir" ] && grep -rlE -- '-----BEGIN [A-Z ]*PRIVATE KEY-----' "$dir" 2>/dev/null
done | sort -u | while read -r key; do
  if openssl pkey -noout -passin pass: -in "$key" >/dev/null 2>&1; then loads=readable; else loads=unreadable; fi
  if runuser -u nobody -- test -r "$key"; then nobody=yes; else nobody=no; fi
  if runuser -u www-data -- test -r "$key"; then worker=yes; else worker=no; fi
  printf '%s %s %s %s %s %s\n' "$key" "$(stat -c '%a %U:%G' "$key")" "$(sha256sum <"$key" | cut -d' ' -f1)" \
    "$loads" "$nobody" "$worker"
done
