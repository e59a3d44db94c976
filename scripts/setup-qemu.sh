#!/bin/bash
# Installs QEMU 10 from Debian's bookworm-backports suite: Debian 12's QEMU 7.2 has no `igb`
# (the emulated Intel 82576 SR-IOV NIC the VM tier boots). Adds the suite to apt's sources when
# no source names it yet, with the same mirror URI and keyring as the existing Debian source.
# Idempotent: does nothing when QEMU >= 10 is installed. Called by setup.sh.
set -euo pipefail

wanted_major=10
installed=$(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null || true)
# Debian versions look like 1:10.0.2+ds-1~bpo12+1: the upstream major follows the epoch.
installed_major=$(sed -E 's/^[0-9]+://; s/[^0-9].*//' <<<"${installed:-0}")
if [ -n "$installed" ] && [ "${installed_major:-0}" -ge "$wanted_major" ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "setup: QEMU $wanted_major is missing (have ${installed:-none}); run as root" >&2
    exit 1
fi

sources_dir=/etc/apt/sources.list.d
if ! grep -rqsE '(^|[[:space:]])bookworm-backports([[:space:]]|$)' /etc/apt/sources.list "$sources_dir"/*.list "$sources_dir"/*.sources; then
    # The mirror the machine already uses for bookworm (deb822 or one-line format).
    mirror=$(grep -hsE '^URIs:' "$sources_dir"/*.sources | awk '{print $2}' | grep -v -- '-security' | head -n1 || true)
    if [ -z "$mirror" ]; then
        mirror=$(grep -hsE '^deb[[:space:]].*[[:space:]]bookworm[[:space:]]' /etc/apt/sources.list "$sources_dir"/*.list |
                 awk '{for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; exit }}' | head -n1 || true)
    fi
    mirror=${mirror:-http://deb.debian.org/debian}
    echo "setup: adding bookworm-backports ($mirror) to apt's sources" >&2
    cat >"$sources_dir/bookworm-backports.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
fi

echo "setup: installing qemu-system-x86 $wanted_major from bookworm-backports (have ${installed:-none})" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends -t bookworm-backports qemu-system-x86 >&2
