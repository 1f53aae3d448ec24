# Controller half of the iryo_c11 clause module (library/iryo_c11.py): the host-side C.11 checks in one
# module call, then the live probes of the host's TLS endpoints, here on the controller, in the same task.

from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.check_action import ClauseAction
from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.tls.endpoint import probe_endpoints


class ActionModule(ClauseAction):
    def execute_check(self, task_vars):
        args = dict(self._task.args or {})
        endpoints = args.pop("tls_probe", None) or []
        result = {"changed": False, "findings": []}
        if args:  # the host-side checks first: in enforce mode the probes then judge what was just reloaded
            self._task.args = args
            result = dict(super().execute_check(task_vars))
            result["findings"] = list(result.get("findings") or [])
        if endpoints:
            probes, findings = probe_endpoints(endpoints)
            result["probes"] = probes
            result["findings"].extend(findings)
        return result
