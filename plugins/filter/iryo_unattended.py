# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for plain builtin tasks of an enforce path: may this run change this check?

    - name: "C.12 | PATCH | c12.antimalware.mirror_config | clamav-freshclam enabled and running"
      ansible.builtin.systemd_service: {name: clamav-freshclam, enabled: true, state: started}
      when: c12_patches_antimalware_mode == 'enforce' and 'c12.antimalware.mirror_config' | iryo_may_enforce

`iryo_may_enforce` reads the check's switch (iryo_check_<id>, docs/switches-and-tags.md), the run's
`iryo_unattended` (playbooks/nightly.yml sets it true) and the check's `unattended` mark in the clause
catalog: true unless the check is switched off, or nobody is watching and the check is not marked safe.
Check modules need nothing: iryo_guard.check_action does the same for them.
`iryo_unattended_safe` is the bare catalog mark. See docs/operations.md.
"""

from pathlib import Path

import yaml
from ansible.errors import AnsibleFilterError
from jinja2 import pass_context

from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.catalog import load_catalog, switch_name
from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.unattended import may_enforce


def iryo_unattended_safe(check_id):
    """'c12.antimalware.mirror_config' -> True: the check's `unattended` mark in the catalog."""
    try:
        return load_catalog().unattended_safe(str(check_id))
    except KeyError as exc:
        raise AnsibleFilterError(str(exc)) from None


@pass_context
def iryo_may_enforce(context, check_id):
    """True unless the check is switched off, or this run is unattended (iryo_unattended) and the check is not
    unattended-safe."""
    try:
        return may_enforce(load_catalog(), str(check_id), context.get("iryo_unattended"),
                           context.get(switch_name(str(check_id))))
    except (KeyError, ValueError) as exc:
        raise AnsibleFilterError(str(exc)) from None


def iryo_role_argument_specs(roles_dir):
    """roles/ -> {role: options of its `main` argument spec}, for every role that has
    meta/argument_specs.yml: nightly.yml validates them all on every host before any host is touched."""
    specs = {}
    for path in sorted(Path(str(roles_dir)).glob("*/meta/argument_specs.yml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise AnsibleFilterError("cannot read %s: %s" % (path, exc)) from None
        main = (data.get("argument_specs") or {}).get("main") or {}
        specs[path.parent.parent.name] = main.get("options") or {}
    return specs


class FilterModule:
    def filters(self):
        return {"iryo_unattended_safe": iryo_unattended_safe, "iryo_may_enforce": iryo_may_enforce,
                "iryo_role_argument_specs": iryo_role_argument_specs}
