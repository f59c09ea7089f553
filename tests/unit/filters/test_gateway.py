"""inference.platform.gateway_problems: the LiteLLM gateway's database, Service type and tenants, called directly
(the validate stage passes only what the inventory sets; the litellm role passes every value)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from ansible_collections.inference.platform.plugins.filter.inventory import GATEWAY_METRIC_LABELS_READ, gateway_problems

ROOT = Path(__file__).resolve().parents[3]
LITELLM_DEFAULTS = yaml.safe_load((ROOT / "roles/litellm/defaults/main.yml").read_text())
TENANTS = [{"name": "team-a", "models": ["m"]}, {"name": "team-b", "models": ["m"]}]
UNDEFINED = "__undefined__"
NODE_PORT = {"litellm_service_type": "NodePort", "litellm_node_port": 30400}


def test_nothing_set_keeps_the_role_defaults_and_passes():
    names = ("litellm_database", "litellm_service_type", "litellm_node_port", "litellm_node_port_source_cidrs",
             "litellm_ingress_enabled")
    assert gateway_problems(dict.fromkeys(names, UNDEFINED), TENANTS) == {"errors": [], "warnings": []}
    assert gateway_problems({}, TENANTS) == {"errors": [], "warnings": []}


def test_the_role_defaults_pass_with_tenants():
    settings = {name: LITELLM_DEFAULTS[name] for name in ("litellm_database", "litellm_service_type",
                                                          "litellm_node_port", "litellm_ingress_enabled")}
    assert settings["litellm_database"] == "postgres" and settings["litellm_service_type"] == "ClusterIP"
    assert gateway_problems(settings, TENANTS) == {"errors": [], "warnings": []}


def test_no_database_with_tenants_is_refused_naming_them_and_what_to_write():
    result = gateway_problems({"litellm_database": "none"}, TENANTS, "here")
    assert result["errors"] == [
        "litellm_database is none here, but inference_tenants lists team-a, team-b: tenants become LiteLLM teams with "
        "keys and budgets, which live in the gateway's database. Write inference_tenants: [] (only the master key "
        "reaches the models), or litellm_database: postgres."
    ]


@pytest.mark.parametrize("tenants", [[], None, UNDEFINED])
def test_no_database_without_tenants_passes(tenants):
    assert gateway_problems({"litellm_database": "none"}, tenants) == {"errors": [], "warnings": []}


@pytest.mark.parametrize("database", ["sqlite", "None", "", None, True])
def test_an_unknown_database_is_refused(database):
    (error,) = gateway_problems({"litellm_database": database}, [], "here")["errors"]
    assert error == (f"litellm_database is '{database}' here; write postgres (keys, tenants, budgets and spend in "
                     "PostgreSQL) or none (no database: the master key only).")


@pytest.mark.parametrize("port", [30000, 30400, 32767, "30400"])
def test_a_node_port_in_the_range_passes(port):
    settings = {**NODE_PORT, "litellm_node_port": port, "litellm_ingress_enabled": False}
    assert gateway_problems(settings, []) == {"errors": [], "warnings": []}


@pytest.mark.parametrize(("port", "shown"), [(29999, "'29999'"), (32768, "'32768'"), (None, "not set"),
                                             ("http", "'http'"), (True, "'True'"), (80, "'80'")])
def test_a_node_port_outside_the_range_or_missing_is_refused(port, shown):
    settings = {"litellm_service_type": "NodePort", "litellm_node_port": port}
    (error,) = gateway_problems(settings, [], "here")["errors"]
    assert error.startswith(f"litellm_service_type is NodePort here but litellm_node_port is {shown}; write a port "
                            "from 30000 to 32767")
    assert "verify_litellm_url at http://<a node's address>:<that port>" in error


def test_an_undefined_node_port_with_node_port_service_is_refused():
    settings = {"litellm_service_type": "NodePort", "litellm_node_port": UNDEFINED}
    assert "litellm_node_port is not set" in gateway_problems(settings, [])["errors"][0]


def test_an_unknown_service_type_is_refused():
    (error,) = gateway_problems({"litellm_service_type": "LoadBalancer"}, [], "here")["errors"]
    assert error.startswith("litellm_service_type is 'LoadBalancer' here; write ClusterIP")


@pytest.mark.parametrize(("cidrs", "expected"), [
    ([], "litellm_node_port_source_cidrs is [] here; write a non-empty list"),
    ("10.0.0.0/8", "litellm_node_port_source_cidrs is '10.0.0.0/8' here; write a non-empty list"),
    (["10.89.42.10/24"], "litellm_node_port_source_cidrs entry '10.89.42.10/24' here is not a network in CIDR "
                         "notation with its host bits zero; write e.g. 10.89.42.0/24."),
])
def test_bad_node_port_source_networks_are_refused(cidrs, expected):
    (error,) = gateway_problems({**NODE_PORT, "litellm_node_port_source_cidrs": cidrs}, [], "here")["errors"]
    assert error.startswith(expected)


def test_a_node_port_on_a_cluster_ip_service_is_a_warning():
    result = gateway_problems({"litellm_node_port": 30400}, [], "here")
    assert result["errors"] == []
    assert result["warnings"] == ["litellm_node_port is 30400 here but litellm_service_type is ClusterIP: the port is "
                                  "not used; set litellm_service_type: NodePort, or remove litellm_node_port."]


def test_no_ingress_and_no_node_port_is_a_warning_and_a_bad_boolean_an_error():
    (warning,) = gateway_problems({"litellm_ingress_enabled": "false"}, [], "here")["warnings"]
    assert warning.startswith("litellm_ingress_enabled is false and litellm_service_type is ClusterIP here: the "
                              "gateway is reachable only from inside the cluster")
    assert gateway_problems({"litellm_ingress_enabled": "maybe"}, [], "here")["errors"] == [
        "litellm_ingress_enabled is 'maybe' here; write true or false."]


def test_the_lab_shape_passes():
    settings = {"litellm_database": "none", **NODE_PORT, "litellm_ingress_enabled": False,
                "litellm_node_port_source_cidrs": ["10.89.42.0/24", "10.42.0.0/16"]}
    assert gateway_problems(settings, []) == {"errors": [], "warnings": []}


def test_the_role_default_metrics_port_passes_beside_the_platform_api_port():
    api_port = yaml.safe_load((ROOT / "group_vars/all/platform.yml").read_text())["platform_ports"]["gateway"]
    settings = {"litellm_metrics_port": LITELLM_DEFAULTS["litellm_metrics_port"]}
    assert gateway_problems(settings, [], "here", api_port) == {"errors": [], "warnings": []}


@pytest.mark.parametrize("port", [80, 0, 70000, "metrics", None])
def test_a_metrics_port_a_non_root_proxy_cannot_open_is_refused(port):
    assert gateway_problems({"litellm_metrics_port": port}, [], "here", 4000)["errors"] == [
        f"litellm_metrics_port is '{port}' here; write a port from 1024 to 65535 (the proxy runs as a non-root user "
        "without capabilities), e.g. litellm_metrics_port: 4001."]


def test_the_metrics_port_on_the_api_port_is_refused():
    assert gateway_problems({"litellm_metrics_port": "4000"}, [], "here", 4000)["errors"] == [
        "litellm_metrics_port is 4000 here, the gateway's API port (platform_ports.gateway): LiteLLM serves its "
        "unauthenticated metrics on a port of their own; write another, e.g. litellm_metrics_port: 4001."]
    assert gateway_problems({"litellm_metrics_port": 4000}, [], "here")["errors"] == []  # no API port given


def test_the_role_default_metrics_exclude_labels_pass():
    settings = {"litellm_metrics_exclude_labels": LITELLM_DEFAULTS["litellm_metrics_exclude_labels"]}
    assert settings["litellm_metrics_exclude_labels"] == ["client_ip", "user_agent"]
    assert gateway_problems(settings, [], "here") == {"errors": [], "warnings": []}
    assert gateway_problems({"litellm_metrics_exclude_labels": []}, [], "here")["errors"] == []


def test_metrics_exclude_labels_that_are_not_label_names_are_refused():
    assert gateway_problems({"litellm_metrics_exclude_labels": "client_ip"}, [], "here")["errors"] == [
        "litellm_metrics_exclude_labels is 'client_ip' here; write a list of label names of LiteLLM's metrics, e.g. "
        "[client_ip, user_agent] (the role's default)."]
    assert gateway_problems({"litellm_metrics_exclude_labels": ["client-ip", 3]}, [], "here")["errors"] == [
        "litellm_metrics_exclude_labels entry 'client-ip' here is not a Prometheus label name; write names such as "
        "client_ip or user_agent (letters, digits and _).",
        "litellm_metrics_exclude_labels entry 3 here is not a Prometheus label name; write names such as client_ip "
        "or user_agent (letters, digits and _)."]


@pytest.mark.parametrize("label", ["requested_model", "model", "team_alias"])
def test_dropping_a_label_the_platform_reads_is_refused(label):
    assert gateway_problems({"litellm_metrics_exclude_labels": ["client_ip", label]}, [], "here")["errors"] == [
        f"litellm_metrics_exclude_labels here drops {label}, which the platform reads (the scale-to-zero wake query "
        "selects requested_model; the gateway dashboard sums by requested_model, model, team_alias); remove it from "
        "the list."]


def test_the_labels_the_platform_reads_are_the_ones_its_queries_use():
    """GATEWAY_METRIC_LABELS_READ is the one list the rule keeps; the KEDA template and the dashboards are where the
    labels are read, so a query that starts reading another LiteLLM label must add it there."""
    keda = (ROOT / "roles/keda/templates/objects.yaml.j2").read_text()
    dashboards = [line for line in (ROOT / "roles/monitoring/vars/dashboards.yml").read_text().splitlines()
                  if "litellm_" in line and not line.lstrip().startswith("#")]
    read = set(re.findall(r"litellm_\w+\{(\w+)=", keda))
    for line in dashboards:
        for group in re.findall(r"by \(([^)]*)\)", line):
            read |= {label.strip() for label in group.split(",")} - {"le"}
    assert dashboards and read == set(GATEWAY_METRIC_LABELS_READ), (read, dashboards)
