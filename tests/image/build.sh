#!/usr/bin/env bash
# Build the Debian 12 systemd image the Molecule scenarios and the demo run their Linux hosts on.
# No registry is reachable, so the root file system comes from debootstrap and is loaded with
# `podman import`. The image is tagged with a hash of this script: a changed recipe rebuilds it,
# an unchanged one is reused (a second `make test` costs nothing here).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/containers.conf}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
name="${GDPR_TEST_IMAGE_NAME:-localhost/gdpr-debian12-systemd}"
recipe=$(sha256sum "$0" | cut -c1-12)
tag="$name:$recipe"

# logrotate: the Linux agent scenario rotates logs the way hosts do (test_standin_fidelity.py).
packages=(
  python3 python3-apt systemd systemd-sysv dbus sudo ca-certificates curl gnupg
  procps iproute2 apache2 nginx auditd rsyslog logrotate
)

if podman image exists "$tag"; then
  echo "image $tag is up to date"
  podman tag "$tag" "$name:latest"
  exit 0
fi

work=$(mktemp -d /var/tmp/gdpr-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

echo "debootstrap bookworm into $rootfs (this takes a few minutes, once)"
debootstrap --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" bookworm "$rootfs" "$mirror"

# Services must not start inside the chroot, and the web servers are enabled per test host by
# Molecule's prepare step, so they do not fight over port 80 on podman's shared host network.
chroot "$rootfs" systemctl disable apache2.service nginx.service auditd.service >/dev/null 2>&1 || true
chroot "$rootfs" systemctl mask systemd-udevd.service systemd-udev-trigger.service \
  systemd-networkd-wait-online.service getty@tty1.service console-getty.service \
  systemd-logind.service systemd-resolved.service >/dev/null 2>&1 || true
# auditd needs the host's audit netlink socket, which a container does not get.
chroot "$rootfs" systemctl mask auditd.service >/dev/null 2>&1 || true
rm -f "$rootfs"/etc/machine-id && : > "$rootfs"/etc/machine-id
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/*

tar -C "$rootfs" -c . | podman import \
  --change 'CMD ["/sbin/init"]' \
  --change 'ENV container=podman' \
  --change 'STOPSIGNAL SIGRTMIN+3' \
  - "$tag"
podman tag "$tag" "$name:latest"
echo "built $tag"
