# Controller-side check: the live TLS verdict of one endpoint (iryo_guard/tls/). No module is sent to a
# host: the probe runs in the controller process against host:port. Documentation: library/tls_probe.py.
# The C.11 role probes through its clause call instead (plugins/action/iryo_c11.py); both use
# iryo_guard/tls/endpoint.py.

from ansible.errors import AnsibleActionFail

from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.check_action import CheckAction
from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.tls import endpoint

argument_spec = endpoint.argument_spec  # documented in library/tls_probe.py (tests compare the two)


class ActionModule(CheckAction):
    """tls_probe: judge host:port against a TLS profile; findings for the five TLS checks of its clause
    (c11.tls.* for C.11 endpoints, which only mhlw-c11 / mhlw-c11-tls12 may judge; c10.tls.* for C.10)."""

    def execute_check(self, task_vars):
        try:
            args = endpoint.validate(self._task.args or {})
        except ValueError as exc:
            raise AnsibleActionFail(str(exc)) from None
        return endpoint.probe_endpoint(args)
