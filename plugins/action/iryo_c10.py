# Controller half of the iryo_c10 clause module (library/iryo_c10.py): every C.10 host check in one module
# call (iryo_guard/check_action.py ClauseAction: tags, unattended hold-back, findings), plus the firewall's
# "commit confirmed" (iryo_guard/nft_confirm.py): when nft_firewall left a new table pending, a NEW connection
# to the host runs the clause module again with only nft_firewall state=confirmed, inside this same task. The
# confirmation happens only after a change, so an audit or a no-op harden stays one module call per host.

from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard import nft_confirm
from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.check_action import ClauseAction
from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.schema import error_finding

FIREWALL = "nft_firewall"
# The firewall's checks (data/catalog: module nft_firewall), for error findings when its own are missing.
FIREWALL_CHECKS = ("c10.firewall.default_drop", "c10.firewall.allowed_services")


def replace_findings(findings, new):
    """`findings` with the block of the firewall's findings (by check id) replaced by `new`, in place. By check id,
    not by the firewall's own result, so it holds even if the clause result stops repeating each module's findings."""
    checks = set(FIREWALL_CHECKS)
    out, placed = [], False
    for finding in findings:
        if isinstance(finding, dict) and finding.get("check") in checks:
            if not placed:
                out.extend(new)
                placed = True
            continue
        out.append(finding)
    return out if placed else out + list(new)


class ActionModule(ClauseAction):

    def execute_check(self, task_vars):
        args = dict(self._task.args or {})
        options = args.get(FIREWALL)
        if not isinstance(options, dict) or (options.get("state") or "audit") not in nft_confirm.ENFORCING:
            return super().execute_check(task_vars)
        args[FIREWALL], confirm = nft_confirm.prepare(self, options)
        self._task.args = args
        result = dict(super().execute_check(task_vars))
        applied = (result.get("checks") or {}).get(FIREWALL) or {}
        if result.get("unreachable") or not applied.get("pending_confirmation"):
            return result
        timeout = args[FIREWALL].get("rollback_timeout", 120)
        if not confirm:
            result.setdefault("warnings", []).append(nft_confirm.skipped_warning(timeout))
            return result

        def run(fw_options):
            done = self._execute_module(module_name=self._task.action, module_args={FIREWALL: fw_options},
                                        task_vars=task_vars)
            if done.get("unreachable"):
                return done
            # the clause module's result for its one check module; a failure there is the firewall's failure
            return dict((done.get("checks") or {}).get(FIREWALL) or {}, **(
                {"failed": True, "msg": done.get("msg")} if done.get("failed") else {}))

        confirmed, again = nft_confirm.reconnect_and_confirm(self, args[FIREWALL], run)
        checks = dict(result.get("checks") or {})
        if confirmed.get("failed") or confirmed.get("unreachable"):
            message = nft_confirm.unconfirmed_message(confirmed, timeout)
            # The findings of the applied call describe a table the host is about to roll back: not a verdict.
            errors = [error_finding(check, message, target="nftables",
                                    summary="could not decide: the new ruleset was applied but not confirmed over a "
                                            "new connection, so the host restores its previous table within %s s"
                                            % timeout)
                      for check in FIREWALL_CHECKS]
            result["findings"] = replace_findings(result.get("findings") or [], errors)
            checks[FIREWALL] = dict(applied, failed=True, msg=message, findings=errors)
            failed = list(result.get("failed_checks") or []) + ["%s: %s" % (FIREWALL, message)]
            result.update(checks=checks, failed=True, failed_checks=failed,
                          msg=" ".join(m for m in (result.get("msg") if result.get("failed") else "", message) if m))
            return result
        merged = nft_confirm.merge_confirmation(applied, confirmed, args[FIREWALL]["connection"], again)
        checks[FIREWALL] = merged
        result["checks"] = checks
        result["findings"] = replace_findings(result.get("findings") or [], merged.get("findings") or [])
        diff = list(result.get("diff") or [])
        result["diff"] = diff + [d for d in confirmed.get("diff") or [] if d not in diff]
        result["changed"] = bool(result.get("changed") or merged.get("changed"))
        return result
