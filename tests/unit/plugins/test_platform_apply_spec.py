"""platform_apply has one argument spec: the module file documents it and the action plugin validates with it."""

from __future__ import annotations

from ansible_collections.inference.platform.plugins.action import platform_apply as action
from ansible_collections.inference.platform.plugins.modules import platform_apply as stub


def test_the_action_validates_with_the_modules_own_spec():
    assert action.ARGUMENT_SPEC is stub.ARGUMENT_SPEC
