#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: av_signatures
short_description: Judge how fresh the malware signatures are (MHLW GL 5.2 §6.11 C.12)
description:
  - Judges the anti-malware signature databases only, never the scanner itself; presence, the
    integrity of each database header, and age.
  - ClamAV. Reads the 512-byte C(ClamAV-VDB) header of every C(.cvd) and C(.cld) in O(database_dir).
    The signature age is the age of the newest official build, in practice C(daily), as ClamAV
    itself judges it; C(main) and C(bytecode) change rarely. The header's build time in seconds
    is used, or the build-time field when the header has none.
  - Unsigned custom databases (C(.hdb), C(.ndb), C(.ldb), ... such as a hospital's own or those its
    mirror serves through freshclam's C(DatabaseCustomURL)) carry no date. Their age is their
    modification time, i.e. when they were built or fetched. They decide only when no official database
    is usable. Allow lists (C(.fp), C(.sfp), C(.ign), C(.ign2), C(.wdb)) never decide.
  - A truncated file, a wrong magic, an unparsable header, a C(.cvd) whose body does not match
    the header's MD5 is an C(error) finding naming the file and why, unless the usable databases
    are already too old (then C(fail)). A database dated more than an hour ahead of the host clock
    is always an C(error). Never a pass.
  - Microsoft Defender for Endpoint on Linux. Reads C(mdatp health --output json) when the
    C(mdatp) command exists.
  - Read-only; returns findings in the iryo-guard schema (check C(c12.antimalware.signatures_fresh)).
version_added: "0.1.0"
author:
  - iryo-guard developers (!UNKNOWN)
options:
  database_dir:
    description:
      - ClamAV's C(DatabaseDirectory).
    type: path
    default: /var/lib/clamav
  max_age_hours:
    description:
      - Signatures older than this many hours fail. An iryo-guard choice, not a guideline value;
        clamd itself warns at 7 days.
    type: int
    default: 72
  engine:
    description:
      - Which engine to judge. V(auto) judges ClamAV when O(database_dir) exists or a ClamAV
        command is installed, and Defender when C(mdatp) is installed (both when both are present).
        When V(auto) finds neither, the finding is C(fail).
    type: str
    choices: [auto, clamav, mdatp]
    default: auto
  custom_databases:
    description:
      - Also judge unsigned custom database files by their modification time.
    type: bool
    default: true
  verify_checksums:
    description:
      - Compare the MD5 of each C(.cvd) body with its header, which finds files cut short after the
        header. It reads every C(.cvd) completely (about 200 MB for C(main) and C(daily)).
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: In check mode the module changes nothing on the host and reports what it would change.
  diff_mode:
    support: none
    description: Returns no diff; the findings describe the state it read.
    details: The module reads only; there is nothing to diff.
notes:
  - The RSA signatures of official databases are not verified; clamd does that when it loads them,
    and refuses a directory holding a database that fails. A header edited by hand can therefore
    look fresh here. The lab has no official databases, since they cannot be forged.
  - Other anti-malware products (e.g. Trend Micro) are not recognised. On such hosts V(auto)
    reports C(fail) and the hospital records an inventory exception with the product's evidence.
  - Rules, measurements and the lab are described in docs/av-signatures.md of iryo-guard.
"""

EXAMPLES = r"""
- name: C.12 | AUDIT | c12.antimalware.signatures_fresh | Malware signatures up to date
  av_signatures:
    max_age_hours: 72
  register: c12_av_signatures

- name: Ad hoc, against a copy of a database directory
  # ansible localhost -m av_signatures -a "database_dir=/tmp/clamav max_age_hours=72"
  av_signatures:
    database_dir: /tmp/clamav
    engine: clamav
"""

RETURN = r"""
compliant:
  description: True when every finding is C(pass).
  returned: always
  type: bool
engine:
  description: The engines judged, C(clamav), C(mdatp) or C(clamav+mdatp); C(none) when V(auto) found neither.
  returned: always
  type: str
databases:
  description:
    - Every database file found (and Defender's definitions), newest decision input included.
    - C(kind) is C(official), C(custom) or C(allowlist); C(source) is C(header), C(mtime) or C(mdatp).
    - C(build_time) is ISO 8601 UTC, from the header (built), the mtime (built or fetched) or
      Defender (last update). C(problem) is set when the file is unusable.
  returned: always
  type: list
  elements: dict
  sample: [{name: daily.cld, kind: official, version: 27830, signatures: 2076522, build_time: "2026-11-25T08:31:00Z",
            age_hours: 14.9, source: header}]
newest_age_hours:
  description:
    - Age of the newest signatures that decide, in hours; with two engines, the older of the two.
    - Null when there is none.
  returned: always
  type: float
findings:
  description: Findings in the iryo-guard schema, one per engine (target the database directory, or C(mdatp)).
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.iryo_check_av_signatures import ARGUMENT_SPEC, MODULE_KWARGS, run_module


def main():
    run_module(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **MODULE_KWARGS))


if __name__ == "__main__":
    main()
