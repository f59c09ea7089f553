#!/bin/sh
# STAND-IN for a dedicated server's boot, run in a lab container by the Robot stand-in's reset hook (tests only).
#   standin-boot rescue: "boot" Hetzner's rescue system: installimage and the image files appear, the hostname is
#                        rescue, and the installed system's files of the project are out of sight (as in a rescue
#                        system, whose root is not the disk).
#   standin-boot disk:   "boot" from the disks: the rescue tools go; after a stand-in install the new hostname
#                        is set and the old system's files stay gone, otherwise they are back.
set -eu
rescue_root=/root/.oldroot/nfs
case "${1:-}" in
  rescue)
    mkdir -p /var/lib/standin /run/standin "$rescue_root/install" "$rescue_root/images"
    if [ -d /etc/inference-platform ] && [ ! -e /var/lib/standin/disk ]; then
      mkdir -p /var/lib/standin/disk && mv /etc/inference-platform /var/lib/standin/disk/
    fi
    install -m 0755 /usr/local/lib/standin/installimage "$rescue_root/install/installimage"
    for image in Ubuntu-2404-noble-amd64-base Ubuntu-2204-jammy-amd64-base Debian-1210-bookworm-amd64-base; do
      : > "$rescue_root/images/$image.tar.gz"
    done
    rm -f /var/lib/standin/installed-hostname
    touch /run/standin/rescue
    echo rescue > /etc/hostname
    hostname rescue
    ;;
  disk)
    rm -rf /root/.oldroot /run/standin/rescue
    if [ -f /var/lib/standin/installed-hostname ]; then
      cp /var/lib/standin/installed-hostname /etc/hostname
      rm -f /var/lib/standin/installed-hostname
    elif [ -d /var/lib/standin/disk/inference-platform ]; then
      mv /var/lib/standin/disk/inference-platform /etc/
    fi
    rm -rf /var/lib/standin/disk
    hostname "$(cat /etc/hostname)"
    ;;
  *) echo "usage: standin-boot rescue|disk" >&2; exit 2 ;;
esac
