"""What host_prep leaves on a host, checked on the lab hosts. The lab shares the machine's kernel, so
converge ran with host_prep_apply_kernel_settings: false: the persistent files are checked here, and
that nothing was applied to the running system (firewall table not loaded, swap line kept only as a
comment). The live kernel state is proven on a real host (roles/host_prep/README.md)."""

import pytest

SERVER = "molecule-hp-server-1"
GPU_AGENT = "molecule-hp-agent-1"


def name(host):
    return host.backend.get_hostname()


def test_sysctl_file_persists_the_kernel_parameters(host):
    conf = host.file("/etc/sysctl.d/90-inference-platform.conf")
    assert (conf.user, conf.mode) == ("root", 0o644)
    lines = [line for line in conf.content_string.splitlines() if line and not line.startswith("#")]
    assert lines == [
        "net.ipv4.ip_forward = 1",
        "net.bridge.bridge-nf-call-iptables = 1",
        "net.bridge.bridge-nf-call-ip6tables = 1",
        "fs.inotify.max_user_instances = 8192",
        "fs.inotify.max_user_watches = 524288",
        "vm.max_map_count = 262144",
        "kernel.panic = 10",
        "kernel.panic_on_oops = 1",
    ]


def test_modules_load_file_loads_overlay_and_br_netfilter_at_boot(host):
    conf = host.file("/etc/modules-load.d/90-inference-platform.conf")
    lines = [line for line in conf.content_string.splitlines() if line and not line.startswith("#")]
    assert lines == ["overlay", "br_netfilter"]


def test_swap_is_commented_out_in_fstab(host):
    fstab = host.file("/etc/fstab").content_string
    assert "# /swapfile none swap sw 0 0  # swap off for Kubernetes (roles/host_prep)" in fstab.splitlines()
    assert not [line for line in fstab.splitlines() if line.startswith("/swapfile")]


def test_the_packages_are_installed(host):
    for package in ("nftables", "conntrack", "socat", "pciutils", "systemd-timesyncd"):
        assert host.package(package).is_installed, package


def test_time_sync_is_configured_and_enabled(host):
    conf = host.file("/etc/systemd/timesyncd.conf.d/90-inference-platform.conf")
    assert "NTP=ntp1.example.net ntp2.example.net" in conf.content_string.splitlines()
    assert host.service("systemd-timesyncd").is_enabled


def test_open_files_limit_is_raised(host):
    assert "*    hard nofile 1048576" in host.file("/etc/security/limits.d/90-inference-platform.conf").content_string
    assert (
        "DefaultLimitNOFILE=1048576"
        in host.file("/etc/systemd/system.conf.d/90-inference-platform.conf").content_string.splitlines()
    )


def test_nouveau_is_blacklisted_on_the_gpu_host_only(host):
    blacklist = host.file("/etc/modprobe.d/90-inference-platform-nouveau.conf")
    if name(host) == GPU_AGENT:
        assert "blacklist nouveau" in blacklist.content_string.splitlines()
        assert "options nouveau modeset=0" in blacklist.content_string.splitlines()
    else:
        assert not blacklist.exists


def test_firewall_ruleset_is_valid_nftables(host):
    ruleset = host.file("/etc/inference-platform/firewall.nft")
    assert (ruleset.user, ruleset.mode) == ("root", 0o600)
    # nft -c parses the file and checks it with the kernel's nftables without committing it.
    host.run_expect([0], "nft -c -f /etc/inference-platform/firewall.nft")


def test_firewall_opens_ssh_to_admins_and_the_private_network(host):
    rules = host.file("/etc/inference-platform/firewall.nft").content_string
    assert "type filter hook input priority filter; policy drop;" in rules
    assert "ip saddr { 198.51.100.0/24, 10.0.0.0/16 } tcp dport 22 accept" in rules
    assert "ip6 saddr { 2001:db8::/32 } tcp dport 22 accept" in rules


def test_firewall_opens_the_api_and_etcd_on_the_control_plane_only(host):
    rules = host.file("/etc/inference-platform/firewall.nft").content_string
    api = "ip saddr { 198.51.100.0/24, 10.0.0.0/16, 10.42.0.0/16 } tcp dport 6443 accept"
    etcd = "ip saddr { 10.0.0.0/16, 10.42.0.0/16 } tcp dport 2379-2380 accept"
    assert (api in rules, etcd in rules) == ((True, True) if name(host) == SERVER else (False, False))
    # Every node: kubelet, flannel VXLAN (k3s, the default distribution) and node-exporter, from nodes and pods.
    assert "ip saddr { 10.0.0.0/16, 10.42.0.0/16 } tcp dport 10250 accept" in rules
    assert "ip saddr { 10.0.0.0/16, 10.42.0.0/16 } udp dport 8472 accept" in rules
    assert "ip saddr { 10.0.0.0/16, 10.42.0.0/16 } tcp dport 9100 accept" in rules


def test_firewall_unit_is_enabled_but_nothing_was_loaded(host):
    assert host.service("inference-platform-firewall").is_enabled
    assert "inference_platform" not in host.check_output("nft list tables")


def test_running_kernel_and_nvidia_packages_are_held(host):
    kernel = host.check_output("uname -r")
    held = set(host.check_output("apt-mark showhold").split())
    expected = {f"linux-image-{kernel}"} | ({"libnvidia-compute-550"} if name(host) == GPU_AGENT else set())
    assert held == expected


@pytest.mark.parametrize("pattern", ["linux-image-", "linux-headers-", "nvidia-", "libnvidia-"])
def test_unattended_upgrades_leave_kernel_and_nvidia_alone(host, pattern):
    conf = host.file("/etc/apt/apt.conf.d/51inference-platform-holds").content_string
    assert "Unattended-Upgrade::Package-Blacklist {" in conf
    assert f'    "{pattern}";' in conf.splitlines()
    # apt itself must read the file: a syntax error would break every apt run on the host.
    assert pattern in host.check_output("apt-config dump Unattended-Upgrade::Package-Blacklist")
