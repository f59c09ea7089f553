"""Lab containers that play Hetzner dedicated (Robot) servers in the provision tests.

Each is a Debian 12 systemd container from the lab's image recipe (roles/lab, plus ifupdown, which Hetzner's Debian
images configure their network with), reached by Ansible through podman, never over a network. What makes it a
"dedicated server" is a STAND-IN, named so: ``lab/standin-boot.sh`` switches it between a simulated rescue system
and its installed system when the Robot stand-in is told to reset the server, and ``lab/standin-installimage.sh``
checks and records the installimage configuration instead of installing anything. The container's own OS (Debian 12,
bookworm) is the "installed system" the role checks afterwards, so the tests install the Debian image. It proves
the role's decisions and its files; it does not prove installimage, a rescue boot or a VLAN on a real NIC.
"""

from __future__ import annotations

import dataclasses
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
IMAGE = "localhost/inference-lab-hetzner:debian12"
# The installimage image the lab servers can "install": the containers' own release.
LAB_INSTALL_IMAGE = "Debian-1210-bookworm-amd64-base"


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=check, timeout=timeout)


def build_image(ansible_playbook: Path) -> None:
    """Build (or find cached) the lab image with ifupdown, through roles/lab's recipe-hash cache."""
    packages = yaml.safe_load((PROJECT_ROOT / "roles/lab/defaults/main.yml").read_text())["lab_image_packages"]
    extra = {"lab_state": "image", "lab_image": IMAGE, "lab_image_packages": [*packages, "ifupdown"]}
    done = subprocess.run(
        [str(ansible_playbook), "playbooks/lab.yml", "-e", yaml.safe_dump(extra, default_flow_style=True)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"building {IMAGE} failed:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")


@dataclasses.dataclass
class LabServer:
    """One container standing in for a Robot server."""

    inventory_name: str
    server_number: int
    server_ip: str
    container: str

    def exec(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return podman("exec", self.container, *argv, check=check)

    def read(self, path: str) -> str | None:
        done = self.exec("cat", path, check=False)
        return done.stdout if done.returncode == 0 else None

    def boot(self, mode: str) -> None:
        """What a reset does to the server: boot the rescue system or the disks (stand-in)."""
        self.exec("/usr/local/lib/standin/boot", mode)


class LabServers:
    """Start the containers; ``on_reset`` is the Robot stand-in's reset hook."""

    def __init__(self, names_and_numbers: list[tuple[str, int]]) -> None:
        run_id = uuid.uuid4().hex[:6]
        self.servers = [
            LabServer(name, number, f"203.0.113.{60 + index}", f"provision-{name}-{run_id}")
            for index, (name, number) in enumerate(names_and_numbers)
        ]
        self.by_number = {server.server_number: server for server in self.servers}

    def start(self) -> None:
        for server in self.servers:
            podman(
                "run",
                "--detach",
                "--name",
                server.container,
                "--hostname",
                server.inventory_name,
                "--privileged",
                "--systemd=always",
                "--label",
                "io.inference-platform.test=provision",
                IMAGE,
                "/sbin/init",
            )
            podman("exec", server.container, "mkdir", "-p", "/usr/local/lib/standin")
            podman(
                "cp",
                str(HERE / "lab" / "standin-installimage.sh"),
                f"{server.container}:/usr/local/lib/standin/installimage",
            )
            podman("cp", str(HERE / "lab" / "standin-boot.sh"), f"{server.container}:/usr/local/lib/standin/boot")

    def stop(self) -> None:
        for server in self.servers:
            podman("rm", "--force", "--time", "0", server.container, check=False)

    def on_reset(self, server_number: int, reset_type: str, rescue: dict | None) -> None:
        server = self.by_number.get(server_number)
        if server is not None:
            server.boot("rescue" if rescue else "disk")

    def __iter__(self) -> Iterator[LabServer]:
        return iter(self.servers)
