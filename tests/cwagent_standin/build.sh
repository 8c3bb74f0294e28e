#!/usr/bin/env bash
# Build the test stand-in of the CloudWatch agent as a real Debian package, signed with a throwaway
# key the way AWS signs the real one (detached `<package>.sig`):
#   OUT/amazon-cloudwatch-agent.deb, OUT/amazon-cloudwatch-agent.deb.sig,
#   OUT/signing-key.gpg (public key), OUT/signing-key.fpr (its fingerprint).
# Usage: build.sh OUT_DIR   (the output is rebuilt only when the inputs changed)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUT_DIR}
version=1.300099.0
mkdir -p "$out"
out=$(cd "$out" && pwd)
inputs=$(cat "$0" "$here/cwagent_standin.py" "$here/amazon-cloudwatch-agent.service" | sha256sum | cut -c1-16)
if [ -f "$out/amazon-cloudwatch-agent.deb" ] && [ "$(cat "$out/.inputs" 2>/dev/null)" = "$inputs" ]; then
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/root"
home="$root/opt/aws/amazon-cloudwatch-agent"
mkdir -p "$root/DEBIAN" "$home/bin" "$home/etc/amazon-cloudwatch-agent.d" "$home/logs" "$home/var" \
  "$root/etc/systemd/system"
# Debian has no `python`: the installed copies run with the system's python3.
for name in amazon-cloudwatch-agent-ctl start-amazon-cloudwatch-agent; do
  sed '1s|^#!.*|#!/usr/bin/python3|' "$here/cwagent_standin.py" > "$home/bin/$name"
  chmod 0755 "$home/bin/$name"
done
echo "$version" > "$home/bin/CWAGENT_VERSION"
install -m 0644 "$here/amazon-cloudwatch-agent.service" "$root/etc/systemd/system/amazon-cloudwatch-agent.service"
cat > "$home/etc/common-config.toml" <<'TOML'
# This common-config is used to configure items used for both ssm and cloudwatch access

## Configuration for shared credential.
## Default credential strategy will be used if it is absent here:
##            Instance role is used for EC2 case by default.
##            AmazonCloudWatchAgent profile is used for onPremise case by default.
# [credentials]
#    shared_credential_profile = "{profile_name}"
#    shared_credential_file = "{file_name}"
TOML
cat > "$root/DEBIAN/control" <<CONTROL
Package: amazon-cloudwatch-agent
Version: $version
Architecture: all
Maintainer: gdpr.aws_monitoring tests <tests@invalid>
Depends: python3 (>= 3.11), systemd
Section: admin
Priority: optional
Description: Amazon CloudWatch Agent (test stand-in)
 Same name, paths, unit and control script as the real agent; ships log lines to the
 endpoint in logs.endpoint_override. For tests only.
CONTROL
echo "/opt/aws/amazon-cloudwatch-agent/etc/common-config.toml" > "$root/DEBIAN/conffiles"
cat > "$root/DEBIAN/postinst" <<'SH'
#!/bin/sh
set -e
getent group cwagent >/dev/null || groupadd -r cwagent
getent passwd cwagent >/dev/null || useradd -r -M -g cwagent -d /home/cwagent -s /usr/sbin/nologin cwagent
systemctl daemon-reload >/dev/null 2>&1 || true
SH
cat > "$root/DEBIAN/prerm" <<'SH'
#!/bin/sh
set -e
if [ "$1" = remove ]; then systemctl stop amazon-cloudwatch-agent.service >/dev/null 2>&1 || true; fi
SH
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm"
dpkg-deb --root-owner-group -Zgzip --build "$root" "$work/amazon-cloudwatch-agent.deb" >/dev/null

export GNUPGHOME="$work/gnupg"
mkdir -m 0700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key "CloudWatch agent stand-in <tests@invalid>" ed25519 sign 1d 2>/dev/null
fpr=$(gpg --batch --with-colons --fingerprint | awk -F: '/^fpr/ {print $10; exit}')
gpg --batch --quiet --detach-sign --output "$work/amazon-cloudwatch-agent.deb.sig" "$work/amazon-cloudwatch-agent.deb"
gpg --batch --export "$fpr" > "$work/signing-key.gpg"
echo "$fpr" > "$work/signing-key.fpr"
for f in amazon-cloudwatch-agent.deb amazon-cloudwatch-agent.deb.sig signing-key.gpg signing-key.fpr; do
  mv -f "$work/$f" "$out/$f"
done
echo "$inputs" > "$out/.inputs"
echo "built $out/amazon-cloudwatch-agent.deb ($version, signing key $fpr)"
