# Read by roles/kubeadm (tasks/main.yml) in one command; prints key=value lines and changes nothing.
# Arguments: host commands that must be on PATH (each missing one is printed as missing=<command>).
printf 'cgroupfs=%s\n' "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)"
if grep -qw overlay /proc/filesystems; then echo overlay=present; else echo overlay=absent; fi
if [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]; then echo br_netfilter=present; else echo br_netfilter=absent; fi
for key in net/bridge/bridge-nf-call-iptables net/bridge/bridge-nf-call-ip6tables net/ipv4/ip_forward; do
    printf 'sysctl.%s=%s\n' "$(echo "$key" | tr / .)" "$(cat "/proc/sys/$key" 2>/dev/null)"
done
for command in "$@"; do
    command -v "$command" >/dev/null 2>&1 || printf 'missing=%s\n' "$command"
done
