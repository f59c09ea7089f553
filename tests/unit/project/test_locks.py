"""The Python locks: every line hash-pinned, each lock in step with its input, and one LiteLLM version.

scripts/lock-requirements.sh writes the three locks; scripts/setup.sh installs the two venvs from theirs with
`pip install --require-hashes`, and execution-environment.yml the EE's (tests/unit/awx). A line without a hash
would make pip refuse the whole file in hash mode, or, installed without it, accept any file under that name.
"""

import re
from pathlib import Path

import jinja2
import pytest
import yaml
from packaging.requirements import Requirement

PROJECT_ROOT = Path(__file__).resolve().parents[3]
VERSIONS = PROJECT_ROOT / "group_vars" / "all" / "versions.yml"
# lock -> the input it is resolved from
LOCKS = {
    "requirements.txt": "requirements.in",
    "requirements-servers.txt": "requirements-servers.in",
    "requirements-ee.txt": "requirements-ee.in",
}
# the two venvs setup.sh creates: they pin pip too (setup.sh installs it from the lock first)
VENV_LOCKS = ("requirements.txt", "requirements-servers.txt")
LOCK_LINE = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;]+)(?P<hashes>(?: --hash=sha256:[0-9a-f]{64})+)$"
)
RELOCK = "regenerate the locks with scripts/lock-requirements.sh"


def canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def entries(lock: str) -> list[str]:
    """The non-comment lines of a lock."""
    lines = (PROJECT_ROOT / lock).read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


def pins(lock: str) -> dict[str, str]:
    found = {}
    for line in entries(lock):
        match = LOCK_LINE.match(line)
        if match:
            found[canon(match["name"])] = match["version"]
    return found


def inputs(source: str) -> list[Requirement]:
    requirements = []
    for line in (PROJECT_ROOT / source).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirements.append(Requirement(line))
    return requirements


def versions() -> dict:
    return yaml.safe_load(VERSIONS.read_text(encoding="utf-8"))


def deployed_litellm_version() -> str:
    """The LiteLLM release the gateway image runs: litellm_image as Ansible renders it from versions.yml, tag read."""
    pinned = versions()
    template = jinja2.Environment(undefined=jinja2.StrictUndefined)  # noqa: S701  (an image reference, not HTML)
    image = template.from_string(pinned["litellm_image"]).render(pinned)
    tag = image.rsplit("@", 1)[0].rsplit(":", 1)[-1]
    match = re.fullmatch(r"(?:main-)?v?(\d+\.\d+\.\d+)", tag)
    assert match, f"litellm_image {image!r}: its tag {tag!r} names no LiteLLM release (v<major.minor.patch>)"
    return match[1]


@pytest.mark.parametrize("lock", LOCKS)
def test_every_lock_line_is_pinned_with_its_hash(lock):
    bad = [line for line in entries(lock) if not LOCK_LINE.match(line)]
    assert entries(lock), f"{lock} pins nothing"
    assert bad == [], (
        f"{lock}: lines without `name==version --hash=sha256:<digest>` (pip --require-hashes refuses them, "
        f"and without hash mode any file of that name would do): {bad[:5]}; {RELOCK}"
    )


@pytest.mark.parametrize("lock", LOCKS)
def test_every_package_is_locked_once(lock):
    names = [canon(LOCK_LINE.match(line)["name"]) for line in entries(lock) if LOCK_LINE.match(line)]
    twice = sorted({name for name in names if names.count(name) > 1})
    assert twice == [], f"{lock} pins {twice} more than once; {RELOCK}"


@pytest.mark.parametrize(("lock", "source"), LOCKS.items())
def test_lock_holds_what_its_input_asks_for(lock, source):
    """A changed input without a relock: a package missing from the lock, or at another version than asked."""
    locked = pins(lock)
    for requirement in inputs(source):
        name = canon(requirement.name)
        assert name in locked, f"{source} asks for {requirement}, {lock} lacks it; {RELOCK}"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"{source} asks for {requirement}, {lock} pins {locked[name]}; {RELOCK}"
        )


def test_venv_locks_pin_the_same_pip():
    found = {lock: pins(lock).get("pip") for lock in VENV_LOCKS}
    assert None not in found.values(), f"a venv lock pins no pip (setup.sh installs it from there first): {found}"
    assert len(set(found.values())) == 1, f"the venv locks pin different pips: {found}"


def test_tests_run_the_litellm_version_the_platform_deploys():
    """One gateway version: litellm_version in versions.yml, the deployed image's tag, the servers venv's LiteLLM."""
    pinned = versions()["litellm_version"]
    deployed = deployed_litellm_version()
    tested = pins("requirements-servers.txt").get("litellm")
    assert deployed == pinned, (
        f"litellm_image runs LiteLLM {deployed}, litellm_version is {pinned}: derive the tag from it"
    )
    assert tested == deployed, (
        f"the integration tests run LiteLLM {tested} (requirements-servers.txt), the platform deploys {deployed} "
        f"(group_vars/all/versions.yml); {RELOCK}"
    )
