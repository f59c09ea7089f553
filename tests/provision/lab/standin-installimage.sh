#!/bin/sh
# STAND-IN for Hetzner's installimage, inside a lab container that plays a dedicated server's rescue system.
# It is NOT installimage and installs nothing: it checks the configuration file the way the real tool reads it
# (DRIVEn, SWRAID, SWRAIDLEVEL, HOSTNAME, PART, IMAGE), records it, and makes the container look freshly installed
# at its next "boot" (standin-boot disk): the old disk's files of the project are dropped, the hostname is set.
# Usage as the real one in automatic mode: installimage -a -c FILE
set -eu
config=""
automatic=0
while [ $# -gt 0 ]; do
  case "$1" in
    -a) automatic=1 ;;
    -c) shift; config="$1" ;;
    *) echo "standin-installimage: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$automatic" = 1 ] || { echo "standin-installimage: only automatic mode (-a) is supported" >&2; exit 2; }
[ -n "$config" ] && [ -r "$config" ] || { echo "standin-installimage: no readable config (-c FILE)" >&2; exit 2; }
[ -e /run/standin/rescue ] || { echo "standin-installimage: not in the rescue system" >&2; exit 1; }

value() { sed -n "s/^$1[[:space:]]\{1,\}//p" "$config" | head -n 1; }
fail() { echo "standin-installimage: $*" >&2; exit 1; }

drives=$(grep -c '^DRIVE[0-9]\{1,\}[[:space:]]' "$config" || true)
[ "$drives" -ge 1 ] || fail "no DRIVE1 line"
[ -n "$(value DRIVE1)" ] || fail "DRIVE1 is empty"
swraid=$(value SWRAID)
case "$swraid" in
  0) ;;
  1)
    [ "$drives" -ge 2 ] || fail "SWRAID 1 needs two drives or more"
    case "$(value SWRAIDLEVEL)" in 0|1|5|6|10) ;; *) fail "SWRAIDLEVEL must be 0, 1, 5, 6 or 10" ;; esac ;;
  *) fail "SWRAID must be 0 or 1" ;;
esac
hostname=$(value HOSTNAME)
[ -n "$hostname" ] || fail "no HOSTNAME"
grep -q '^PART[[:space:]]\{1,\}/[[:space:]]' "$config" || fail "no PART line for /"
grep '^PART[[:space:]]' "$config" | while read -r _ mount fs size; do
  [ -n "$mount" ] && [ -n "$fs" ] && [ -n "$size" ] || fail "PART line needs mount, filesystem and size"
done
image=$(value IMAGE)
[ -f "$image" ] || fail "IMAGE $image does not exist"

mkdir -p /var/lib/standin
cp "$config" /var/lib/standin/installimage.conf
echo "$hostname" > /var/lib/standin/installed-hostname
basename "$image" .tar.gz > /var/lib/standin/installed-image
# The disks are wiped: what the old system had of the project goes.
rm -rf /var/lib/standin/disk
echo "standin-installimage: would install $(basename "$image") on $drives drive(s) as $hostname"
