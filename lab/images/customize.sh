#!/bin/sh
# mmdebstrap customize hook: turns the fresh Debian chroot into a lab hospital server image.
# Runs on the controller as root: customize.sh ROOTFS CODENAME ARCHIVE_KEYRING
# Part of the image recipe: any change here changes the image tag (lab/lab.py).
set -eu
root=$1 codename=$2 keyring=$3
here=$(cd "$(dirname "$0")" && pwd)

# Overlay files. Git keeps only the executable bit, so modes and owners are set below.
cp -R --no-preserve=ownership "$here/rootfs/." "$root/"
install -d -m 0755 "$root/etc/nginx/ssl" "$root/etc/apache2/ssl"
install -d -m 0700 "$root/root/.ssh"
chroot "$root" chown clamav:clamav /var/lib/clamav/hospital-local.hdb
chmod 0644 "$root/var/lib/clamav/hospital-local.hdb"

# apt: only the hospital's internal mirror, checked with the lab's archive key.
rm -f "$root/etc/apt/sources.list" "$root"/etc/apt/sources.list.d/*
install -m 0644 "$keyring" "$root/usr/share/keyrings/iryo-lab-archive-keyring.gpg"
sed "s/@CODENAME@/$codename/g" "$here/debian.sources.in" >"$root/etc/apt/sources.list.d/debian.sources"

# The administrators' account: Ansible logs in as iryoadmin and becomes root with sudo, as on a
# hardened hospital server where root cannot log in over SSH (D.1). lab.py up adds the lab key.
chroot "$root" useradd --create-home --shell /bin/bash --comment "iryo-lab administrator" iryoadmin
install -d -m 0700 "$root/home/iryoadmin/.ssh"
chroot "$root" chown iryoadmin:iryoadmin /home/iryoadmin/.ssh
printf 'iryoadmin ALL=(ALL:ALL) NOPASSWD: ALL\n' >"$root/etc/sudoers.d/iryoadmin"
chmod 0440 "$root/etc/sudoers.d/iryoadmin"

# SSH: no host keys in the image (ssh-hostkeys.service makes them per container).
rm -f "$root"/etc/ssh/ssh_host_*
chroot "$root" systemctl enable --quiet ssh-hostkeys.service

# Nothing may change a host by itself (apt timers, freshclam); freshclam off = stale signatures
# (weakness 4); no firewall (weakness 6); web servers start only where the host's role needs them.
# Unit names differ between releases (trixie adds clamav-freshclam-once), so absent ones are skipped.
present() {
	for unit; do
		if [ -e "$root/usr/lib/systemd/system/$unit" ]; then echo "$unit"; fi
	done
}
chroot "$root" systemctl disable --quiet $(present apt-daily.timer apt-daily-upgrade.timer \
	clamav-freshclam.service clamav-freshclam-once.timer clamav-freshclam-once.service \
	nftables.service nginx.service apache2.service)
# clamd runs on the local database (trixie ships it disabled, bookworm enabled).
chroot "$root" systemctl enable --quiet clamav-daemon.service

# EHR's Apache: mod_ssl and the TLS site (the site needs ehr's key, which lab.py up provides).
chroot "$root" a2enmod -q ssl >/dev/null
chroot "$root" a2ensite -q ehr-tls >/dev/null
