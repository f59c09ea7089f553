"""Proves the Robot STAND-IN (hetzner_standin.robot_api) with the real community.hrobot 2.7.0 modules.

The modules and the inventory plugin run unmodified through the real Ansible CLI with the project's
ansible.cfg, and reach the stand-in through the loopback TLS-intercepting proxy (hetzner_standin.tls_intercept):
``https_proxy`` and ``SSL_CERT_FILE`` are the only things that differ from a run against Hetzner. Credentials
are passed in the environment and read with ``{{ lookup('ansible.builtin.env', ...) }}`` (in playbooks
through ``module_defaults: group/community.hrobot.robot``), never in argv. Nothing here talks to Hetzner: the
Robot host name does not even resolve on these machines, and every ansible environment is checked to route
https through the loopback proxy, which refuses every other target.

A module's sequence (first run changed, the same again unchanged, check mode on a change, ...) is one
``ansible-playbook`` run with one task per step (``ignore_errors`` so every result is there to assert on);
single runs use ``ansible localhost -m community.hrobot.<module>``. Measured on the project's 2-CPU machine,
each CLI process costs about 2.5 s of CPU to start and each module task about 1.1 s more, so one process per
step would put this file well over a minute. That the re-run and check mode mutate nothing is shown by the
stand-in's request log: after the whole sequence it holds only the mutations of the steps that changed.

The CLI scenarios (one per module, each with its own stand-in and proxy, so their request logs are their
own) run concurrently in threads, started by the ``scenarios`` fixture for the tests selected; each
``test_<name>`` waits for ``scenario_<name>`` and re-raises its failure. ROBOT_STANDIN_TEST_WORKERS sets the
number of threads (default 3; 1 runs them one after another).
"""

from __future__ import annotations

import base64
import concurrent.futures
import dataclasses
import datetime
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hetzner_standin.robot_api import ROBOT_BASE_URL, RobotStandin
from hetzner_standin.tls_intercept import LOOPBACK, InterceptProxy

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_CFG = PROJECT_ROOT / "ansible.cfg"
BIN = Path(sys.executable).parent

USER = "robot-standin-test"
PASSWORD = base64.urlsafe_b64encode(os.urandom(12)).decode()  # a fresh one per test session
USER_ENV, PASSWORD_ENV = "HROBOT_STANDIN_TEST_USER", "HROBOT_STANDIN_TEST_PASSWORD"

SERVERS = [
    {
        "server_number": 2101,
        "server_ip": "198.51.100.21",
        "server_ipv6_net": "2001:db8:21::",
        "server_name": "gpu-1",
        "product": "GEX44",
        "dc": "FSN1-DC14",
        "status": "ready",
    },
    {
        "server_number": 2102,
        "server_ip": "198.51.100.22",
        "server_ipv6_net": "2001:db8:22::",
        "server_name": "gpu-2",
        "product": "GEX44",
        "dc": "FSN1-DC14",
        "status": "ready",
    },
    {
        "server_number": 2103,
        "server_ip": "198.51.100.23",
        "server_ipv6_net": "2001:db8:23::",
        "server_name": "",
        "product": "GEX44",
        "dc": "NBG1-DC3",
        "status": "ready",
    },
]
SERVER_LIST_FIELDS = {
    "server_ip",
    "server_ipv6_net",
    "server_number",
    "server_name",
    "product",
    "dc",
    "traffic",
    "status",
    "cancelled",
    "paid_until",
    "ip",
    "subnet",
}


UNSAFE = "__ansible_unsafe"


def env_ref(name: str) -> str:
    return "{{ lookup('ansible.builtin.env', '" + name + "') }}"


def new_public_key(comment: str) -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode() + f" {comment}"


def md5_fingerprint(public_key: str) -> str:
    """The Robot's key fingerprint as documented: MD5 of the base64-decoded key blob, colon-separated hex."""
    digest = hashlib.md5(base64.b64decode(public_key.split()[1]), usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, 32, 2))


@dataclasses.dataclass
class Run:
    """One CLI run: ``results`` holds the module result of each task (ad hoc: one), in order."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    results: list[dict[str, Any]]

    @property
    def result(self) -> dict[str, Any]:
        [result] = self.results
        return result

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def describe(self) -> str:
        return f"rc={self.returncode}\n--- stdout (end)\n{self.stdout[-4000:]}\n--- stderr (end)\n{self.stderr[-3000:]}"


def changed(result: Mapping[str, Any]) -> bool:
    return result.get("changed") is True and not result.get("failed")


def unchanged(result: Mapping[str, Any]) -> bool:
    return result.get("changed") is False and not result.get("failed")


CREDENTIALS = {"hetzner_user": env_ref(USER_ENV), "hetzner_password": env_ref(PASSWORD_ENV)}


def task(module: str, args: Mapping[str, Any], check: bool = False) -> dict[str, Any]:
    """A playbook task running ``community.hrobot.<module>`` (credentials come from module_defaults)."""
    entry: dict[str, Any] = {"name": module, f"community.hrobot.{module}": dict(args), "ignore_errors": True}
    if check:
        entry["check_mode"] = True
    return entry


class Robot:
    """One stand-in + its proxy, and the CLI runs against them."""

    def __init__(self, settle_polls: int = 0) -> None:
        self.hook_calls: list[tuple[int, str, dict[str, Any] | None]] = []
        self.standin = RobotStandin(USER, PASSWORD, servers=SERVERS, on_reset=self._on_reset, settle_polls=settle_polls)
        self.proxy = InterceptProxy(self.standin.handle).start()
        self.tmp = Path(tempfile.mkdtemp(prefix="robot-standin-test-"))

    def _on_reset(self, number: int, reset_type: str, rescue: dict[str, Any] | None) -> None:
        self.hook_calls.append((number, reset_type, rescue))

    def close(self) -> None:
        self.proxy.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def env(self, password: str = PASSWORD) -> dict[str, str]:
        env = self.proxy.subprocess_env()
        # The only way out for https is the loopback proxy, which serves the stand-in and refuses all else.
        assert env["https_proxy"] == env["HTTPS_PROXY"] == f"http://{LOOPBACK}:{self.proxy.port}"
        assert not any(key.lower() in ("http_proxy", "all_proxy") for key in env)
        env.update(
            {
                "ANSIBLE_CONFIG": str(ANSIBLE_CFG),
                "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_FORCE_COLOR": "0",
                "ANSIBLE_LOCALHOST_WARNING": "0",
                "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
                "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
                "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
                "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
                USER_ENV: USER,
                PASSWORD_ENV: password,
            }
        )
        return env

    def _run(self, argv: list[str], env: Mapping[str, str]) -> Run:
        done = subprocess.run(
            argv, capture_output=True, text=True, env=dict(env), cwd=PROJECT_ROOT, timeout=180, check=False
        )
        try:
            tasks = json.loads(done.stdout)["plays"][0]["tasks"]
            results = [entry["hosts"]["localhost"] for entry in tasks]
        except (ValueError, KeyError, IndexError) as exc:
            raise AssertionError(
                f"no JSON result ({exc})\nrc={done.returncode}\n{done.stdout}\n{done.stderr}"
            ) from None
        return Run(argv, done.returncode, done.stdout, done.stderr, results)

    def module(
        self, module: str, args: Mapping[str, Any], password: str = PASSWORD, env: Mapping[str, str] | None = None
    ) -> Run:
        """``ansible localhost -m community.hrobot.<module> -a <json>``, credentials from the environment."""
        argv = [
            str(BIN / "ansible"),
            "localhost",
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            "-m",
            f"community.hrobot.{module}",
            "-a",
            json.dumps({**CREDENTIALS, **args}),
        ]
        return self._run(argv, env if env is not None else self.env(password))

    def playbook(self, name: str, tasks: list[dict[str, Any]]) -> Run:
        """``ansible-playbook`` of ``tasks`` on localhost; credentials through module_defaults (action group)."""
        play = {
            "name": name,
            "hosts": "localhost",
            "gather_facts": False,
            "module_defaults": {"group/community.hrobot.robot": CREDENTIALS},
            "tasks": tasks,
        }
        path = self.tmp / f"{name}.yml"
        path.write_text(json.dumps([play], indent=1))  # JSON is YAML
        argv = [
            str(BIN / "ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            str(path),
        ]
        run = self._run(argv, self.env())
        assert len(run.results) == len(tasks), run.describe()
        return run

    def inventory(self, config: Path) -> subprocess.CompletedProcess[str]:
        env = self.env()
        env.update(HROBOT_API_USER=USER, HROBOT_API_PASSWORD=PASSWORD)  # what the inventory plugin reads
        return subprocess.run(
            [str(BIN / "ansible-inventory"), "-i", str(config), "--list"],
            capture_output=True,
            text=True,
            env=env,
            cwd=PROJECT_ROOT,
            timeout=120,
            check=False,
        )

    def mutations(self) -> list[tuple[str, str]]:
        return [(entry["method"], entry["path"]) for entry in self.standin.mutations()]


# -- the CLI scenarios, run concurrently -----------------------------------------------------------------------

SCENARIOS: dict[str, Callable[[Robot], None]] = {}
SCENARIO_SETTINGS: dict[str, dict[str, Any]] = {}


def scenario(**settings: Any) -> Callable[[Callable[[Robot], None]], Callable[[Robot], None]]:
    def register(function: Callable[[Robot], None]) -> Callable[[Robot], None]:
        name = function.__name__.removeprefix("scenario_")
        SCENARIOS[name] = function
        SCENARIO_SETTINGS[name] = settings
        return function

    return register


def _run_scenario(name: str) -> None:
    robot = Robot(**SCENARIO_SETTINGS[name])
    try:
        SCENARIOS[name](robot)
    finally:
        robot.close()


class Scenarios:
    def __init__(self, futures: dict[str, concurrent.futures.Future[None]]) -> None:
        self.futures = futures

    def wait(self, name: str) -> None:
        self.futures[name].result(timeout=600)


@pytest.fixture(scope="module")
def scenarios(request: pytest.FixtureRequest) -> Iterator[Scenarios]:
    selected = {item.name.removeprefix("test_") for item in request.session.items}
    names = [name for name in SCENARIOS if name in selected]
    workers = max(1, int(os.environ.get("ROBOT_STANDIN_TEST_WORKERS", "3")))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scenario") as pool:
        yield Scenarios({name: pool.submit(_run_scenario, name) for name in names})


@scenario()
def scenario_ssh_key(robot: Robot) -> None:
    public_key = new_public_key("deploy@provision-test")
    fingerprint = md5_fingerprint(public_key)
    if shutil.which("ssh-keygen"):  # an independent computation of the same fingerprint
        listed = subprocess.run(
            ["ssh-keygen", "-l", "-E", "md5", "-f", "-"], input=public_key, capture_output=True, text=True, check=True
        )
        assert listed.stdout.split()[1] == f"MD5:{fingerprint}"
    args = {"state": "present", "name": "deploy", "public_key": public_key}
    run = robot.playbook(
        "ssh_key",
        [
            task("ssh_key", args),
            task("ssh_key", args),
            task("ssh_key", {**args, "name": "deploy-renamed"}, check=True),
            task("ssh_key_info", {}),
        ],
    )
    first, again, rename, info = run.results
    assert changed(first) and first["fingerprint"] == fingerprint, run.describe()
    assert unchanged(again) and again["fingerprint"] == fingerprint, run.describe()
    assert changed(rename), run.describe()
    [key] = robot.standin.keys()
    assert (key["name"], key["fingerprint"], key["type"], key["size"]) == ("deploy", fingerprint, "ED25519", 256)
    assert key["data"] == " ".join(public_key.split()[:2])  # the module sends the key without its comment
    # Only the first task changed anything: neither the re-run nor check mode sent a request that mutates.
    [post] = robot.standin.mutations()
    assert (post["method"], post["path"], post["status"]) == ("POST", "/key", 201)
    assert post["form"] == {"name": "deploy", "data": key["data"]}
    assert [(k["name"], k["fingerprint"], k["type"]) for k in info["ssh_keys"]] == [("deploy", fingerprint, "ED25519")]


@scenario()
def scenario_boot(robot: Robot) -> None:
    public_key = new_public_key("ops@provision-test")
    fingerprint = robot.standin.add_key("ops", public_key)
    rescue = {"server_number": 2101, "rescue": {"os": "linux", "authorized_keys": [fingerprint]}}
    # A change (other OS; a key given as public key, which the module turns into its fingerprint), check mode.
    other = {"server_number": 2101, "rescue": {"os": "vkvm", "authorized_keys": [public_key]}}
    run = robot.playbook(
        "boot",
        [
            task("boot", rescue),
            task("boot", rescue),
            task("boot", other, check=True),
            task("boot", {"server_number": 2101, "regular_boot": True}),
            task("boot", {"server_number": 2101, "regular_boot": True}),
        ],
    )
    first, again, check, regular, regular_again = run.results
    assert changed(first) and first["configuration_type"] == "rescue", run.describe()
    # The root password comes back although keys were given (as documented); boot does not hide it.
    assert isinstance(first["password"], str) and len(first["password"]) >= 8
    assert unchanged(again) and again["password"] == first["password"]  # read back with GET /boot/{n}
    assert changed(check) and check["password"] is None, run.describe()
    assert changed(regular) and regular["configuration_type"] == "regular_boot", run.describe()
    assert unchanged(regular_again), run.describe()
    mutations = robot.standin.mutations()
    assert [(m["method"], m["path"]) for m in mutations] == [
        ("POST", "/boot/2101/rescue"),
        ("DELETE", "/boot/2101/rescue"),
    ]
    assert mutations[0]["form"] == {"os": "linux", "authorized_key[]": fingerprint}
    assert robot.standin.rescue(2101) is None


@scenario()
def scenario_reset(robot: Robot) -> None:
    public_key = new_public_key("ops@provision-test")
    fingerprint = robot.standin.add_key("ops", public_key)
    status, body, _ = call(robot.standin, "POST", "/boot/2102/rescue", {"os": "linux", "authorized_key[]": fingerprint})
    assert status == 200 and body["rescue"]["active"] is True
    password = body["rescue"]["password"]
    robot.standin.clear_requests()
    hardware = {"server_number": 2102, "reset_type": "hardware"}
    run = robot.playbook(
        "reset",
        [
            task("reset", hardware, check=True),
            task("reset", hardware),
            task("reset", {"server_number": 2102, "reset_type": "software"}),
            task("reset_info", {"server_number": 2102}),
        ],
    )
    check, first, second, info = run.results
    assert changed(check) and changed(first) and changed(second), run.describe()
    expected_rescue = {
        "os": "linux",
        "arch": 64,
        "keyboard": "us",
        "password": password,
        "authorized_keys": [
            {
                "name": "ops",
                "fingerprint": fingerprint,
                "type": "ED25519",
                "size": 256,
                "data": " ".join(public_key.split()[:2]),
            }
        ],
    }
    # Check mode did not reset; the first reset booted the rescue system (consumed); the second got none.
    assert robot.hook_calls == [(2102, "hw", expected_rescue), (2102, "sw", None)]
    assert [(m["method"], m["path"], m["form"]) for m in robot.standin.mutations()] == [
        ("POST", "/reset/2102", {"type": "hw"}),
        ("POST", "/reset/2102", {"type": "sw"}),
    ]
    assert robot.standin.rescue(2102) is None
    assert [(r["type"], r["rescue"] is not None) for r in robot.standin.resets] == [("hw", True), ("sw", False)]
    assert info["reset"]["type"] == ["software", "hardware", "power", "power_long", "manual"]


@scenario()
def scenario_v_switch(robot: Robot) -> None:
    args = {"vlan": 4010, "name": "gpu-net", "servers": ["2101", "198.51.100.22"], "wait_delay": 1}
    smaller = {**args, "servers": ["2101"]}
    cancel = {**args, "state": "absent", "servers": []}
    run = robot.playbook(
        "v_switch",
        [
            task("v_switch", args),
            task("v_switch", args),
            task("v_switch", smaller, check=True),
            task("v_switch", smaller),
            task("v_switch", cancel),
            task("v_switch", cancel),
        ],
    )
    create, again, check, remove, absent, absent_again = run.results
    assert changed(create), run.describe()
    vswitch_id = create["v_switch"]["id"]
    assert [(s["server_number"], s["status"]) for s in create["v_switch"]["server"]] == [
        (2101, "ready"),
        (2102, "ready"),
    ]
    assert unchanged(again) and changed(check), run.describe()
    assert changed(remove) and [s["server_number"] for s in remove["v_switch"]["server"]] == [2101], run.describe()
    assert changed(absent), run.describe()
    assert unchanged(absent_again), run.describe()  # the cancelled vSwitch is listed, but as cancelled
    mutations = robot.standin.mutations()
    assert [(m["method"], m["path"], m["form"]) for m in mutations] == [
        ("POST", "/vswitch", {"name": "gpu-net", "vlan": "4010"}),
        ("POST", f"/vswitch/{vswitch_id}/server", {"server[0]": "2101", "server[1]": "198.51.100.22"}),
        ("DELETE", f"/vswitch/{vswitch_id}/server", {"server[]": "198.51.100.22"}),  # removed by main IP
        ("DELETE", f"/vswitch/{vswitch_id}/server", {"server[]": "198.51.100.21"}),
        ("DELETE", f"/vswitch/{vswitch_id}", {"cancellation_date": datetime.date.today().strftime("%y-%m-%d")}),
    ]
    [vswitch] = robot.standin.vswitches()
    assert (vswitch["id"], vswitch["cancelled"], vswitch["servers"]) == (vswitch_id, True, [])


FIREWALL_RULES = {
    "input": [
        {"name": "Allow ICMP", "ip_version": "ipv4", "protocol": "icmp", "action": "accept"},
        {
            "name": "Allow SSH from admin",
            "ip_version": "ipv4",
            "src_ip": "203.0.113.7",
            "dst_port": "22",
            "protocol": "tcp",
            "action": "accept",
        },
        {
            "name": "Allow TCP responses",
            "ip_version": "ipv4",
            "dst_port": "32768-65535",
            "protocol": "tcp",
            "tcp_flags": "ack",
            "action": "accept",
        },
        {"name": "Drop everything else", "action": "discard"},
    ],
    "output": [{"name": "Allow everything", "action": "accept"}],
}


@scenario()
def scenario_firewall(robot: Robot) -> None:
    args = {"server_number": 2101, "state": "present", "allowlist_hos": True, "rules": FIREWALL_RULES}
    changed_rules = json.loads(json.dumps(FIREWALL_RULES))
    changed_rules["input"][1]["dst_port"] = "2222"
    run = robot.playbook(
        "firewall",
        [
            task("firewall", args),
            task("firewall", args),
            task("firewall", {**args, "rules": changed_rules}, check=True),
            task("firewall_info", {"server_number": 2101}),
        ],
    )
    first, again, check, info = run.results
    assert changed(first) and first["firewall"]["status"] == "active", run.describe()
    assert unchanged(again), run.describe()
    assert changed(check), run.describe()
    assert check["diff"]["before"]["rules"]["input"][1]["dst_port"] == "22"
    assert check["diff"]["after"]["rules"]["input"][1]["dst_port"] == "2222"
    state = robot.standin.firewall(2101)
    assert state["status"] == "active" and state["whitelist_hos"] is True and state["filter_ipv6"] is False
    assert state["rules"]["input"][1] == {
        "name": "Allow SSH from admin",
        "ip_version": "ipv4",
        "dst_ip": None,
        "src_ip": "203.0.113.7/32",  # the module sends the address normalized to a CIDR
        "dst_port": "22",
        "src_port": None,
        "protocol": "tcp",
        "tcp_flags": None,
        "action": "accept",
    }
    assert [rule["name"] for rule in state["rules"]["output"]] == ["Allow everything"]
    [post] = robot.standin.mutations()  # check mode and the re-run sent nothing that mutates
    assert (post["method"], post["path"], post["status"]) == ("POST", "/firewall/2101", 202)
    assert post["form"]["rules[input][1][src_ip]"] == "203.0.113.7/32"
    assert post["form"]["status"] == "active" and post["form"]["whitelist_hos"] == "true"
    assert info["firewall"]["status"] == "active" and info["firewall"]["allowlist_hos"] is True
    assert info["firewall"]["rules"] == state["rules"]


@scenario(settle_polls=1)
def scenario_settling(robot: Robot) -> None:
    """With settle_polls=1 a change reports "in process" once: the modules' wait loops go round once."""
    run = robot.playbook(
        "settling",
        [
            task(
                "firewall",
                {
                    "server_number": 2102,
                    "rules": {"input": [{"name": "Drop all", "action": "discard"}]},
                    "wait_delay": 1,
                },
            ),
            task("v_switch", {"vlan": 4020, "name": "settle-net", "servers": ["2102"], "wait_delay": 1}),
        ],
    )
    firewall, vswitch = run.results
    assert changed(firewall) and firewall["firewall"]["status"] == "active", run.describe()  # waited it out
    assert changed(vswitch) and [s["status"] for s in vswitch["v_switch"]["server"]] == ["ready"], run.describe()
    vswitch_path = f"/vswitch/{vswitch['v_switch']['id']}"
    calls = [(e["method"], e["path"], e["status"]) for e in robot.standin.requests]
    assert calls == [
        ("GET", "/firewall/2102", 200),
        ("POST", "/firewall/2102", 202),  # answers "in process"
        ("GET", "/firewall/2102", 200),  # after wait_delay: "active"
        ("GET", "/vswitch", 200),
        ("POST", "/vswitch", 201),
        ("POST", f"{vswitch_path}/server", 201),
        ("GET", vswitch_path, 200),  # "in process"
        ("GET", vswitch_path, 200),  # after wait_delay: "ready"
    ]


@scenario()
def scenario_server(robot: Robot) -> None:
    args = {"server_number": 2103, "server_name": "gpu-3"}
    run = robot.playbook(
        "server",
        [
            task("server", args),
            task("server", args),
            task("server", {**args, "server_name": "gpu-3-renamed"}, check=True),
            task("server_info", {"server_name": "gpu-3"}),
        ],
    )
    first, again, check, info = run.results
    assert changed(first) and first["server"]["server_name"] == "gpu-3", run.describe()
    assert unchanged(again), run.describe()
    assert changed(check) and check["server"]["server_name"] == "gpu-3-renamed", run.describe()
    assert robot.mutations() == [("POST", "/server/2103")]
    assert robot.standin.server(2103)["server_name"] == "gpu-3"
    [listed] = info["servers"]
    assert listed["server_number"] == 2103 and set(listed) == SERVER_LIST_FIELDS


@scenario()
def scenario_inventory(robot: Robot) -> None:
    config = robot.tmp / "robot.yml"
    config.write_text("plugin: community.hrobot.robot\n")
    done = robot.inventory(config)
    assert done.returncode == 0, done.stderr[-3000:]
    # ansible-core 2.19 writes values the plugin marked unsafe (all of them) as {"__ansible_unsafe": value}.
    assert UNSAFE in done.stdout
    inventory = json.loads(done.stdout, object_hook=lambda d: d[UNSAFE] if set(d) == {UNSAFE} else d)
    hostvars = inventory["_meta"]["hostvars"]
    # Hosts are named by server_name, else by main IP; ansible_host is the main IP.
    assert set(hostvars) == {"gpu-1", "gpu-2", "198.51.100.23"}
    gpu1 = hostvars["gpu-1"]
    assert gpu1["ansible_host"] == "198.51.100.21"
    assert {key for key in gpu1 if key.startswith("hrobot_")} == {f"hrobot_{field}" for field in SERVER_LIST_FIELDS}
    assert (gpu1["hrobot_server_number"], gpu1["hrobot_dc"], gpu1["hrobot_product"]) == (2101, "FSN1-DC14", "GEX44")
    assert gpu1["hrobot_server_ipv6_net"] == "2001:db8:21::"
    assert sorted(inventory["ungrouped"]["hosts"]) == ["198.51.100.23", "gpu-1", "gpu-2"]
    assert [(e["method"], e["path"]) for e in robot.standin.requests] == [("GET", "/server")]


@scenario()
def scenario_wrong_password(robot: Robot) -> None:
    wrong = "not-" + PASSWORD
    run = robot.module("server_info", {}, password=wrong)  # ad hoc: ansible localhost -m ...
    assert run.returncode != 0 and run.result.get("failed") is True, run.describe()
    assert run.result["msg"] == "Request failed: 401 UNAUTHORIZED (Unauthorized)"
    assert run.result["error"]["code"] == "UNAUTHORIZED" and run.result["error"]["status"] == 401
    assert wrong not in run.output  # hetzner_password is no_log
    assert [(e["path"], e["status"]) for e in robot.standin.requests] == [("/server", 401)]


@scenario()
def scenario_untrusted(robot: Robot) -> None:
    """Without SSL_CERT_FILE naming the test CA's bundle the interception is not trusted: nothing is served."""
    env = robot.env()
    del env["SSL_CERT_FILE"]
    run = robot.module("server_info", {}, env=env)
    assert run.returncode != 0 and run.result.get("failed") is True, run.describe()
    assert "CERTIFICATE_VERIFY_FAILED" in run.result["msg"], run.result["msg"]
    assert robot.proxy.tunnels == 1 and robot.proxy.tls_errors
    assert robot.standin.requests == []


def test_ssh_key(scenarios: Scenarios) -> None:
    scenarios.wait("ssh_key")


def test_boot(scenarios: Scenarios) -> None:
    scenarios.wait("boot")


def test_reset(scenarios: Scenarios) -> None:
    scenarios.wait("reset")


def test_v_switch(scenarios: Scenarios) -> None:
    scenarios.wait("v_switch")


def test_firewall(scenarios: Scenarios) -> None:
    scenarios.wait("firewall")


def test_settling(scenarios: Scenarios) -> None:
    scenarios.wait("settling")


def test_server(scenarios: Scenarios) -> None:
    scenarios.wait("server")


def test_inventory(scenarios: Scenarios) -> None:
    scenarios.wait("inventory")


def test_wrong_password(scenarios: Scenarios) -> None:
    scenarios.wait("wrong_password")


def test_untrusted(scenarios: Scenarios) -> None:
    scenarios.wait("untrusted")


# -- the proxy, and the HTTP layer directly (no ansible) ----------------------------------------------------


@pytest.fixture
def proxy() -> Iterator[InterceptProxy]:
    with InterceptProxy(RobotStandin(USER, PASSWORD, servers=SERVERS).handle) as running:
        yield running


def _raw_proxy_request(proxy: InterceptProxy, request: bytes) -> bytes:
    with socket.create_connection((LOOPBACK, proxy.port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    return answer


def test_proxy_refuses_every_other_target(proxy: InterceptProxy) -> None:
    for request in (
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        b"CONNECT api.hetzner.cloud:443 HTTP/1.1\r\n\r\n",
        b"CONNECT robot-ws.your-server.de:80 HTTP/1.1\r\n\r\n",
        b"CONNECT 127.0.0.1:443 HTTP/1.1\r\n\r\n",
        b"GET http://robot-ws.your-server.de/server HTTP/1.1\r\nHost: robot-ws.your-server.de\r\n\r\n",
    ):
        assert _raw_proxy_request(proxy, request).startswith(b"HTTP/1.1 403 Forbidden"), request
    assert len(proxy.refused) == 5 and proxy.tunnels == 0
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"https": proxy.url}))
    with pytest.raises(urllib.error.URLError, match="403"):
        opener.open("https://example.com/", timeout=10)


REQUESTS_PROBE = """
import json, os, sys

import requests

def attempt(url, **kwargs):
    try:
        answer = requests.get(url, timeout=10, **kwargs)
    except requests.exceptions.RequestException as exc:
        return [type(exc).__name__]
    return [answer.status_code, [s["server"]["server_number"] for s in answer.json()]]

auth = (os.environ["PROBE_USER"], os.environ["PROBE_PASSWORD"])
print(json.dumps({
    "loopback_http": requests.utils.get_environ_proxies("http://127.0.0.1:8080/v1/servers"),
    "cloud_https": requests.utils.get_environ_proxies("https://api.hetzner.cloud/v1"),
    "cloud": attempt("https://api.hetzner.cloud/v1/servers"),
    "robot": attempt(sys.argv[1] + "/server", auth=auth),
    "robot_with_bundle": attempt(sys.argv[1] + "/server", auth=auth, verify=os.environ["SSL_CERT_FILE"]),
}))
"""


def test_requests_honours_the_proxy_but_keeps_its_own_trust(proxy: InterceptProxy) -> None:
    """``requests`` (hcloud and other tools) in the same environment, in a subprocess like a real tool."""
    env = proxy.subprocess_env() | {"PROBE_USER": USER, "PROBE_PASSWORD": PASSWORD}
    done = subprocess.run(
        [sys.executable, "-c", REQUESTS_PROBE, ROBOT_BASE_URL], env=env, capture_output=True, text=True, check=True
    )
    probe = json.loads(done.stdout)
    assert probe["loopback_http"] == {}  # plain http on loopback (the Cloud stand-in) is never proxied
    assert probe["cloud_https"]["https"] == proxy.url  # https elsewhere goes to this proxy...
    assert probe["cloud"] == ["ProxyError"]  # ...which refuses it
    # requests does not read SSL_CERT_FILE (REQUESTS_CA_BUNDLE or certifi), so it does not trust the test CA...
    assert probe["robot"] == ["SSLError"]
    assert probe["robot_with_bundle"] == [200, [2101, 2102, 2103]]  # ...unless told to
    assert [line.split()[:2] for line in proxy.refused] == [["CONNECT", "api.hetzner.cloud:443"]]


def test_test_ca_bundle_keeps_previous_trust(proxy: InterceptProxy) -> None:
    assert proxy.ca is not None
    bundle = proxy.ca.bundle.read_text()
    assert bundle.endswith(proxy.ca.ca_cert.read_text())
    assert bundle.count("BEGIN CERTIFICATE") > 1  # the CAs trusted before are still in it
    assert proxy.ca.server_key.stat().st_mode & 0o077 == 0
    assert not list(proxy.ca.directory.glob("*ca*.key"))  # the CA's private key is never written


def call(
    standin: RobotStandin, method: str, path: str, form: Mapping[str, Any] | None = None, password: str = PASSWORD
) -> tuple[int, Any, dict[str, str]]:
    token = base64.b64encode(f"{USER}:{password}".encode()).decode()
    body = urllib.parse.urlencode(form or {}, doseq=True).encode()
    status, headers, payload = standin.handle(method, path, {"Authorization": f"Basic {token}"}, body)
    return status, json.loads(payload) if payload else None, dict(headers)


def test_unauthorized_and_the_request_log() -> None:
    standin = RobotStandin(USER, PASSWORD, servers=SERVERS)
    assert PASSWORD not in repr(standin) and "hidden" in repr(standin)
    status, body, headers = call(standin, "GET", "/server", password="not-" + PASSWORD)
    assert status == 401 and body == {"error": {"status": 401, "code": "UNAUTHORIZED", "message": "Unauthorized"}}
    assert headers["WWW-Authenticate"].startswith("Basic")
    assert standin.handle("GET", "/server", {}, b"")[0] == 401
    status, body, _ = call(standin, "POST", "/storagebox/1/password", {"password": "s3cret", "x": "1"})
    assert status == 404 and body["error"]["code"] == "NOT_FOUND"
    log = standin.requests
    assert log[-1]["form"] == {"password": "***", "x": "1"}
    assert "s3cret" not in json.dumps(log) and "Authorization" not in json.dumps(log)
    assert len(standin.mutations()) == 1
    standin.clear_requests()
    assert standin.requests == []


def test_vswitch_rules_from_the_docs() -> None:
    many = [{"server_number": 3000 + i, "server_ip": f"10.0.{i // 200}.{i % 200 + 1}"} for i in range(101)]
    standin = RobotStandin(USER, PASSWORD, servers=many)
    for vlan in (3999, 4092, "x"):
        status, body, _ = call(standin, "POST", "/vswitch", {"name": "n", "vlan": vlan})
        assert status == 400 and body["error"]["code"] == "INVALID_INPUT" and body["error"]["invalid"] == ["vlan"]
    status, body, _ = call(standin, "POST", "/vswitch", {"vlan": 4000})
    assert status == 400 and body["error"]["missing"] == ["name"]
    ids = []
    for vlan in (4000, 4091, 4000, 4001, 4002, 4003, 4004):  # a VLAN id may be used by several vSwitches
        status, body, _ = call(standin, "POST", "/vswitch", {"name": f"v{vlan}", "vlan": vlan})
        assert status == 201 and body["vlan"] == vlan and body["server"] == [], body
        ids.append(body["id"])
    assert call(standin, "POST", f"/vswitch/{ids[0]}/server", {"server[]": "3000"})[0] == 201
    status, body, _ = call(standin, "POST", f"/vswitch/{ids[2]}/server", {"server[]": "3000"})  # same VLAN 4000
    assert status == 409 and body["error"]["code"] == "VSWITCH_VLAN_NOT_UNIQUE"
    for vswitch_id in ids[1], ids[3], ids[4], ids[5]:
        assert call(standin, "POST", f"/vswitch/{vswitch_id}/server", {"server[]": "10.0.0.1"})[0] == 201
    status, body, _ = call(standin, "POST", f"/vswitch/{ids[6]}/server", {"server[]": "3000"})  # a sixth one
    assert status == 409 and body["error"]["code"] == "VSWITCH_PER_SERVER_LIMIT_REACHED"
    servers = {f"server[{i}]": str(3000 + i) for i in range(101)}
    status, body, _ = call(standin, "POST", f"/vswitch/{ids[6]}/server", servers)
    assert status == 409 and body["error"]["code"] == "VSWITCH_SERVER_LIMIT_REACHED"
    status, body, _ = call(standin, "POST", f"/vswitch/{ids[6]}/server", {"server[]": "999"})
    assert status == 404 and body["error"]["code"] == "SERVER_NOT_FOUND"
    # Cancellation: a date keeps it listed as cancelled (once); "now" removes it; a past date is refused.
    today = datetime.date.today()
    yesterday = (today - datetime.timedelta(days=1)).isoformat()
    assert call(standin, "DELETE", f"/vswitch/{ids[1]}", {"cancellation_date": yesterday})[0] == 400
    assert call(standin, "DELETE", f"/vswitch/{ids[1]}", {"cancellation_date": today.strftime("%y-%m-%d")})[0] == 200
    status, body, _ = call(standin, "DELETE", f"/vswitch/{ids[1]}", {"cancellation_date": "now"})
    assert status == 409 and body["error"]["code"] == "CONFLICT"
    listed = {v["id"]: v["cancelled"] for v in call(standin, "GET", "/vswitch")[1]}
    assert listed[ids[1]] is True
    assert call(standin, "DELETE", f"/vswitch/{ids[3]}", {"cancellation_date": "now"})[0] == 200
    assert call(standin, "GET", f"/vswitch/{ids[3]}")[0] == 404
    standin.purge_cancelled_vswitches()
    assert ids[1] not in {v["id"] for v in call(standin, "GET", "/vswitch")[1]}


def _rule(i: int) -> dict[str, str]:
    return {
        f"rules[input][{i}][name]": "Allow web",
        f"rules[input][{i}][dst_port]": "443",
        f"rules[input][{i}][action]": "accept",
    }


def test_firewall_rules_from_the_docs() -> None:
    standin = RobotStandin(USER, PASSWORD, servers=SERVERS)
    status, body, _ = call(standin, "GET", "/firewall/198.51.100.21")  # by main IP (deprecated) or number
    assert status == 200 and body["firewall"]["server_number"] == 2101 and body["firewall"]["status"] == "disabled"
    ten = {"status": "active"} | {k: v for i in range(10) for k, v in _rule(i).items()}
    status, body, _ = call(standin, "POST", "/firewall/2101", ten)
    assert status == 202 and len(body["firewall"]["rules"]["input"]) == 10
    eleven = ten | _rule(10)
    status, body, _ = call(standin, "POST", "/firewall/2101", eleven)
    assert status == 400 and body["error"]["code"] == "INVALID_INPUT" and body["error"]["invalid"] == ["rules"]
    for bad in (
        {"rules[input][0][name]": "k8s api", "rules[input][0][action]": "accept"},  # digits in the name
        {"rules[input][0][protocol]": "tcp", "rules[input][0][action]": "accept"},  # protocol needs ip_version
        {
            "rules[input][0][ip_version]": "ipv4",
            "rules[input][0][src_ip]": "2001:db8::1",
            "rules[input][0][action]": "accept",
        },
        {"rules[input][0][action]": "drop"},
        {"rules[input][0][dst_port]": "70000", "rules[input][0][action]": "accept"},
    ):
        status, body, _ = call(standin, "POST", "/firewall/2101", {"status": "active", **bad})
        assert status == 400 and body["error"]["invalid"] == ["rules"], bad
    assert len(standin.firewall(2101)["rules"]["input"]) == 10  # refused posts changed nothing


def test_concurrent_requests_are_consistent() -> None:
    standin = RobotStandin(USER, PASSWORD, servers=SERVERS)
    errors: list[BaseException] = []

    def create(worker: int) -> None:
        try:
            for i in range(20):
                status, _, _ = call(standin, "POST", "/vswitch", {"name": f"w{worker}-{i}", "vlan": 4000 + i})
                assert status == 201
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    listed = call(standin, "GET", "/vswitch")[1]
    assert len(listed) == 160 and len({v["id"] for v in listed}) == 160
    assert len(standin.requests) == 161


def test_key_types_and_fingerprints() -> None:
    standin = RobotStandin(USER, PASSWORD, servers=SERVERS)
    openssh = (serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    keys = {
        "rsa": (rsa.generate_private_key(65537, 2048).public_key().public_bytes(*openssh).decode(), "RSA", 2048),
        "ecdsa": (ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(*openssh).decode(), "ECDSA", 384),
        "ed": (new_public_key("c"), "ED25519", 256),
    }
    for name, (public_key, kind, size) in keys.items():
        status, body, _ = call(standin, "POST", "/key", {"name": name, "data": public_key})
        assert status == 201, body
        assert (body["key"]["type"], body["key"]["size"]) == (kind, size)
        assert body["key"]["fingerprint"] == md5_fingerprint(public_key)
    status, body, _ = call(standin, "POST", "/key", {"name": "again", "data": keys["ed"][0]})
    assert status == 409 and body["error"]["code"] == "KEY_ALREADY_EXISTS"
    status, body, _ = call(standin, "POST", "/key", {"name": "bad", "data": "ssh-ed25519 bm90IGEga2V5"})
    assert status == 400 and body["error"]["invalid"] == ["data"]
    fingerprint = md5_fingerprint(keys["rsa"][0])
    assert call(standin, "DELETE", f"/key/{fingerprint}") == (200, None, {})
    assert call(standin, "GET", f"/key/{fingerprint}")[0] == 404


def test_reset_hook_runs_outside_the_lock_and_its_failure_is_a_failed_reset() -> None:
    seen: list[int] = []

    def hook(number: int, reset_type: str, rescue: dict[str, Any] | None) -> None:
        # A hook that talks to the stand-in from another thread (as an HTTP client would) must not deadlock.
        worker = threading.Thread(target=lambda: seen.append(call(standin, "GET", f"/boot/{number}")[0]))
        worker.start()
        worker.join(timeout=10)
        if reset_type == "man":
            raise RuntimeError("the lab container did not switch")

    standin = RobotStandin(USER, PASSWORD, servers=SERVERS, on_reset=hook)
    assert call(standin, "POST", "/boot/2101/rescue", {"os": "vkvm"})[0] == 200
    status, body, _ = call(standin, "POST", "/reset/2101", {"type": "man"})
    assert status == 500 and body["error"]["code"] == "RESET_FAILED"
    assert seen == [200] and len(standin.hook_errors) == 1
    assert standin.rescue(2101) is not None and standin.resets == []  # nothing happened
    status, body, _ = call(standin, "POST", "/reset/2101", {"type": "hw"})
    assert status == 200 and body["reset"]["type"] == "hw"
    assert standin.rescue(2101) is None
    assert call(standin, "GET", "/boot/2101/rescue/last")[1]["rescue"]["os"] == "vkvm"
    status, body, _ = call(standin, "POST", "/reset/2101", {"type": "nmi"})
    assert status == 400 and body["error"]["invalid"] == ["type"]
