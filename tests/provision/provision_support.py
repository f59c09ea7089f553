"""Run playbooks/provision.yml and destroy_hetzner.yml against the Hetzner STAND-INS (hetzner_standin) and lab
containers that play the dedicated servers (lab_servers.py).

``HetznerWorld`` owns one Cloud stand-in, one Robot stand-in behind its TLS-intercepting proxy, the lab servers and
a generated inventory (inventories/hetzner's shape: hosts.yml, hcloud.yml with the hcloud plugin, group_vars/all
with the project defaults linked as 00_project). ``run(playbook, *args)`` runs the real ansible-playbook with only
the credentials and proxy settings in its environment (never in argv) and returns the result with the recap parsed.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from hetzner_standin.hcloud_api import HcloudStandin
from hetzner_standin.robot_api import RobotStandin
from hetzner_standin.tls_intercept import InterceptProxy
from lab_servers import LAB_INSTALL_IMAGE, LabServers, build_image

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CLUSTER = "provtest"
# A real OpenSSH public key (ed25519) for the stand-ins; its private half is not needed: no SSH session is opened.
SSH_PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBzaUkNErB8WhBAKM0RwwKbJOnD8KAh99/zibrbznxqk provision-test"
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


@dataclasses.dataclass
class PlaybookRun:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def recap(self) -> dict[str, dict[str, int]]:
        return {
            host: {"ok": int(ok), "changed": int(changed), "unreachable": int(unreachable), "failed": int(failed)}
            for host, ok, changed, unreachable, failed in RECAP.findall(self.stdout)
        }

    def changed_total(self) -> int:
        return sum(counts["changed"] for counts in self.recap().values())

    def changed_tasks(self) -> list[str]:
        """'TASK [name]' headers followed by a 'changed:' line, in order (default callback)."""
        found, task = [], None
        for line in self.stdout.splitlines():
            header = re.match(r"^TASK \[(.*)\] \*+$", line)
            if header:
                task = header.group(1)
            elif line.startswith("changed:") and task and (not found or found[-1] != task):
                found.append(task)
        return found

    def changed_hosts_by_task(self) -> dict[str, set[str]]:
        """'TASK [name]' -> the hosts with a 'changed: [host]' (or '[host -> delegate]') line under it."""
        found: dict[str, set[str]] = {}
        task = None
        for line in self.stdout.splitlines():
            header = re.match(r"^TASK \[(.*)\] \*+$", line)
            if header:
                task = header.group(1)
            elif task and (changed := re.match(r"^changed: \[([^\]\s]+)", line)):
                found.setdefault(task, set()).add(changed.group(1))
        return found

    def describe(self) -> str:
        return f"rc={self.returncode}\n--- stdout (end)\n{self.stdout[-6000:]}\n--- stderr (end)\n{self.stderr[-3000:]}"


class HetznerWorld:
    """The stand-ins, the lab servers and an inventory of them; ``start()`` / ``stop()``."""

    def __init__(
        self, workdir: Path, robot_hosts: Sequence[tuple[str, int]] = (("gex-1", 3100001), ("gex-2", 3100002))
    ):
        self.workdir = workdir
        self.hcloud = HcloudStandin()
        self.robot_password = secrets.token_urlsafe(24)
        self.lab = LabServers(list(robot_hosts))
        self.robot = RobotStandin(
            "#ws+provtest",
            self.robot_password,
            servers=[{"server_number": s.server_number, "server_ip": s.server_ip} for s in self.lab],
            on_reset=self.lab.on_reset,
        )
        self.proxy = InterceptProxy(self.robot.handle)
        self.inventory = workdir / "inventory"
        self.known_hosts = workdir / "known_hosts"

    def start(self, with_lab: bool = True) -> HetznerWorld:
        if with_lab:
            # A new machine has no image: build it (cached by its recipe hash, seconds when it exists).
            build_image(BIN / "ansible-playbook")
        self.hcloud.start()
        self.proxy.start()
        if with_lab:
            self.lab.start()
        self.write_inventory()
        return self

    def stop(self) -> None:
        self.lab.stop()
        self.proxy.stop()
        self.hcloud.stop()

    @property
    def secrets(self) -> list[str]:
        return [self.hcloud.token, self.robot_password]

    def env(self, **overrides: str) -> dict[str, str]:
        env = self.proxy.subprocess_env()
        env.update(
            {
                "ANSIBLE_CONFIG": str(PROJECT_ROOT / "ansible.cfg"),
                "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_FORCE_COLOR": "0",
                "ANSIBLE_LOCALHOST_WARNING": "0",
                "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
                "HCLOUD_TOKEN": self.hcloud.token,
                "HCLOUD_ENDPOINT": self.hcloud.endpoint,
                "HROBOT_API_USER": self.robot.user,
                "HROBOT_API_PASSWORD": self.robot_password,
            }
        )
        env.update(overrides)
        return env

    def write_inventory(
        self, overrides: Mapping[str, Any] | None = None, hosts: Mapping[str, Any] | None = None
    ) -> Path:
        """inventories/hetzner's shape, pointed at the stand-ins; ``overrides`` go into group_vars/all/50_test.yml."""
        group_vars = self.inventory / "group_vars" / "all"
        group_vars.mkdir(parents=True, exist_ok=True)
        link = group_vars / "00_project"
        if not link.is_symlink():
            link.symlink_to(PROJECT_ROOT / "group_vars" / "all")
        (self.inventory / "hcloud.yml").write_text(
            yaml.safe_dump(
                {
                    "plugin": "inference.platform.hcloud",
                    "group": "hcloud",
                    "label_selector": f"cluster={CLUSTER}",
                    "connect_with": "public_ipv4",
                }
            )
        )
        (self.inventory / "hosts.yml").write_text(yaml.safe_dump(dict(hosts or self.default_hosts()), sort_keys=False))
        settings = {
            "cluster_name": CLUSTER,
            "private_network_cidr": "10.0.0.0/16",
            "admin_cidrs": ["198.51.100.0/24"],
            "hetzner_cloud_ssh_public_key": SSH_PUBLIC_KEY,
            "hetzner_robot_ssh_public_key": SSH_PUBLIC_KEY,
            "hetzner_cloud_subnet_cidr": "10.0.1.0/24",
            "hetzner_robot_vswitch_subnet_cidr": "10.0.3.0/24",
            "hetzner_robot_vswitch_vlan": 4000,
            "hetzner_robot_image": LAB_INSTALL_IMAGE,
            "hetzner_robot_drives": ["/dev/nvme0n1", "/dev/nvme1n1"],
            # No VLAN can be created in a container on this machine (no 8021q module): write and validate only.
            "hetzner_robot_network_apply": False,
            "hetzner_robot_known_hosts_file": str(self.known_hosts),
            "hetzner_robot_probe_timeout": 10,
            "hetzner_robot_reset_settle_seconds": 1,
            "hetzner_robot_rescue_timeout": 60,
            "hetzner_robot_boot_timeout": 60,
            "hetzner_cloud_report_file": str(self.workdir / "report.json"),
            "provision_ssh_timeout": 0,
        }
        settings.update(overrides or {})
        (group_vars / "50_test.yml").write_text(yaml.safe_dump(settings, sort_keys=False))
        return self.inventory

    def default_hosts(self) -> dict[str, Any]:
        cloud = {f"{CLUSTER}-cp-{n}": {"node_ip": f"10.0.1.{10 + n}"} for n in (1, 2, 3)}
        robot = {
            server.inventory_name: {
                "ansible_connection": "containers.podman.podman",
                "ansible_host": server.container,
                "ansible_python_interpreter": "/usr/bin/python3",
                "node_ip": f"10.0.3.{40 + index}",
                "hetzner_robot_server_number": server.server_number,
            }
            for index, server in enumerate(self.lab, start=1)
        }
        return {
            "hetzner_cloud": {"hosts": cloud, "vars": {"ansible_user": "root", "hetzner_cloud_server_type": "cpx32"}},
            "hetzner_robot": {"hosts": robot, "vars": {"ansible_user": "root"}},
            "k8s_cluster": {
                "children": {
                    "k8s_servers": {"hosts": dict.fromkeys(cloud)},
                    "k8s_agents": {"hosts": dict.fromkeys(robot)},
                }
            },
            "gpu_nodes": {"hosts": dict.fromkeys(robot)},
        }

    def run(self, playbook: str, *args: str, env: Mapping[str, str] | None = None, timeout: float = 900) -> PlaybookRun:
        argv = [str(BIN / "ansible-playbook"), "-i", str(self.inventory), f"playbooks/{playbook}", *args]
        done = subprocess.run(
            argv,
            cwd=PROJECT_ROOT,
            env=dict(env or self.env()),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        run = PlaybookRun(argv, done.returncode, done.stdout, done.stderr)
        for secret in self.secrets:
            assert secret not in run.output, f"a secret was printed by {' '.join(argv[3:])}"
        return run

    def mutations(self) -> dict[str, list]:
        return {"hcloud": self.hcloud.mutations(), "robot": self.robot.mutations()}

    def clear_requests(self) -> None:
        self.hcloud.clear_requests()
        self.robot.clear_requests()
