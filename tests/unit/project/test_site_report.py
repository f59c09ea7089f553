"""playbooks/templates/site_report.j2: the last word of site.yml on which stages ran and why it stopped."""

from pathlib import Path

import jinja2
import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[3]
STAGES = ["validate", "provision", "prepare", "cluster", "platform", "verify"]


def render(skip_stages, run_tags=("all",), skip_tags=(), **facts):
    # Ansible's template lookup renders plain text (no HTML escaping) with trim_blocks on, as here.
    environment = jinja2.Environment(  # noqa: S701
        loader=jinja2.FileSystemLoader(PROJECT_ROOT / "playbooks" / "templates"),
        trim_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    return environment.get_template("site_report.j2").render(
        cluster_name="c1",
        site_stages=STAGES,
        site_skip_stages=skip_stages,
        ansible_run_tags=list(run_tags),
        ansible_skip_tags=list(skip_tags),
        **facts,
    )


def last_line(report):
    return report.strip().splitlines()[-1]


def test_every_stage_ran():
    report = render({})
    assert "  provision ran" in report
    assert last_line(report) == "Every selected stage ran."


def test_skipping_provision_where_servers_exist_is_no_shortfall():
    report = render({"provision": "on-prem servers already exist"})
    assert "  provision skipped: on-prem servers already exist" in report
    assert "stopped short" not in report
    assert last_line(report).startswith("Every selected stage that builds the platform ran")


@pytest.mark.parametrize("stage", ["prepare", "cluster", "platform", "verify"])
def test_a_skipped_building_stage_is_named_as_where_the_run_stopped(stage):
    report = render({"provision": "lab containers", stage: "no binary here"})
    assert last_line(report) == f"The run stopped short of a serving platform at stage {stage}: no binary here"


def test_stages_left_out_by_tags_are_neither_run_nor_a_shortfall():
    report = render({"cluster": "no binary here"}, run_tags=("prepare",))
    assert "  prepare   ran" in report
    assert "  cluster   not selected by --tags" in report
    assert last_line(report) == "Every selected stage ran."


def test_the_lab_stand_ins_are_listed_as_stand_ins_when_they_ran():
    line = "nvidia.com/gpu on lab-agent-1: stand-in (node status patch); the GPU Operator does not run in the lab"
    report = render({"provision": "lab containers"}, lab_standins_report=[line])
    assert "Lab stand-ins (roles/lab_standins; none is proof of a GPU):\n  " + line in report
    assert last_line(report).startswith("Every selected stage that builds the platform ran")
    assert "stand-in" not in render({"provision": "lab containers"})
