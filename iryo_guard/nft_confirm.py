"""Controller half of nft_firewall's "commit confirmed", shared by the nft_firewall and iryo_c10 action plugins.

Only the controller can do two things the firewall change needs (docs/firewall.md):
- tell the host which address Ansible is connected from: SSH_CONNECTION read over the same connection
  WITHOUT become (sudo's env_reset drops it, so the module's own environment cannot be trusted to have it);
- confirm an applied ruleset over a NEW connection: reset the connection (ssh: stop the ControlPersist master;
  paramiko: reconnect) and run the module with state=confirmed, which cancels the host's rollback timer and
  persists the ruleset. If that new connection cannot be made, the timer on the host restores the previous
  table by itself.
"""

from ansible.errors import AnsibleError
from ansible.module_utils.parsing.convert_bool import boolean

NO_SSH = ("local",)
ENFORCING = ("enforced", "confirmed")
# What a confirmation's result replaces in the applied call's result: it read the live ruleset after the timer
# was cancelled and the ruleset persisted, so its findings are the state after the change.
CONFIRMED_KEYS = ("findings", "analysis", "violations", "persistent")


def ssh_connection(action):
    """SSH_CONNECTION of this very session as the host sees it, read without become ("" when there is none)."""
    if action._connection.transport in NO_SSH:
        return ""
    try:
        res = action._low_level_execute_command('echo "$SSH_CONNECTION"', sudoable=False)
    except AnsibleError:
        return ""
    return (res.get("stdout") or "").strip() if res.get("rc") == 0 else ""


def prepare(action, options):
    """(options to send, confirm) for one nft_firewall call. Enforcing states get the connection the controller
    is on and the connection type; `confirm` stays on the controller (it decides whether to reconnect)."""
    options = dict(options or {})
    if (options.get("state") or "audit") not in ENFORCING:
        return options, False
    confirm = boolean(options.pop("confirm", True), strict=False)
    options["connection_type"] = action._connection.transport
    if not options.get("connection"):
        options["connection"] = ssh_connection(action)
    return options, confirm


def skipped_warning(timeout):
    return ("nft_firewall: confirmation skipped on purpose (confirm=false); the host restores its previous table in "
            "%s s and nothing was persisted" % timeout)


def reconnect_and_confirm(action, options, run):
    """Reset the connection, then run(options with state=confirmed) over the new one.

    `run(options)` returns the nft_firewall result of the confirmation (plain, as the module returns it).
    Returns (confirmed result, connection seen on the new session); a failed reconnect is a failed result."""
    first = options.get("connection") or ""
    again = ""
    try:
        action._connection.reset()
        again = ssh_connection(action)
        confirmed = run(dict(options, state="confirmed", connection=again or first))
    except AnsibleError as exc:
        confirmed = {"failed": True, "msg": str(exc)}
    return confirmed, again


def unconfirmed_message(confirmed, timeout):
    return ("nft_firewall: the new ruleset was applied, but a new connection to confirm it failed (%s). "
            "The host restores its previous table within %s s of the change; nothing was persisted."
            % ((confirmed.get("msg") or "no message").strip(), timeout))


def merge_confirmation(applied, confirmed, first, again):
    """The applied call's nft_firewall result, completed by its confirmation's (both plain nft_firewall results)."""
    applied = dict(applied)
    applied["confirmation"] = {"first_connection": first, "new_connection": again,
                               "timer_cancelled": bool(confirmed.get("confirmed")),
                               "persisted": bool(confirmed.get("persisted"))}
    applied["pending_confirmation"] = False
    diff = list(applied.get("diff") or [])
    applied["diff"] = diff + [d for d in confirmed.get("diff") or [] if d not in diff]
    for key in CONFIRMED_KEYS:
        applied[key] = confirmed.get(key, applied.get(key))
    applied["changed"] = bool(applied.get("changed") or confirmed.get("changed"))
    return applied
