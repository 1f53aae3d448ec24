# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Requirement data (data/) for the roles' defaults, found through the controller library.

The roles used to read data with role_path arithmetic (role_path ~ '/../../data/...'), which only holds in the
checkout. iryo_guard knows where data/ is in either layout (the checkout's root, or the installed collection's
root), so the roles ask it: lookup('iryo.guard.iryo_data', 'thresholds.yml').
"""

DOCUMENTATION = r"""
name: iryo_data
author: iryo-guard developers (!UNKNOWN)
short_description: Read a requirement data file of iryo-guard
description:
  - Returns the parsed YAML of a file under iryo-guard's C(data/) folder (clause catalog, thresholds, TLS profiles,
    host classes, end-of-life dates, FIPS modules, SSH algorithms).
  - The folder is found by the controller library C(iryo_guard) in the layout it runs from, the git checkout or
    the installed C(iryo.guard) collection, never relative to a role's path.
options:
  _terms:
    description:
      - Paths relative to C(data/), for example C(thresholds.yml) or C(catalog/mhlw-5.2-6.11.yml).
      - Absolute paths and paths that leave C(data/) are refused.
    required: true
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: The journald retention threshold and its source
  ansible.builtin.debug:
    msg: "{{ lookup('iryo.guard.iryo_data', 'thresholds.yml').c10.journald_min_retention_days }}"
"""

RETURN = r"""
_raw:
  description: The parsed content of each file, in the order of the terms.
  type: list
  elements: raw
"""

from functools import lru_cache

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard import DATA_DIR, load_yaml


@lru_cache(maxsize=None)
def _read(relative):
    """Parsed once per process: role defaults are templated per host and task."""
    base = DATA_DIR.resolve()
    path = (base / relative).resolve()
    if path != base and base not in path.parents:
        raise AnsibleLookupError("iryo_data: %r is not a file under %s" % (relative, base))
    if not path.is_file():
        raise AnsibleLookupError("iryo_data: no data file %s" % path)
    return load_yaml(path.read_text(encoding="utf-8"))


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        out = []
        for term in terms:
            relative = str(term)
            if not relative or relative.startswith("/"):
                raise AnsibleLookupError("iryo_data: give a path relative to data/, not %r" % relative)
            out.append(_read(relative))
        return out
