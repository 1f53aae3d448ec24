"""The evidence register: contracts (C.9) and evidence for organisational items, from inventory.

C.9 asks that contracts with carriers and online-service providers confirm the scope of
responsibility for threats and the line's availability, and that the providers confirm C.1 and
C.4. The hospital declares each contract in inventory (``iryo_contracts``); the audit reports the
register under the pseudo-host ``_organisation``:

- no register at all, a contract lacking a field, a contract that does not confirm C.1 and C.4,
  or one last confirmed longer ago than the threshold (data/thresholds.yml, 12 months) -> fail,
  naming what is missing or stale;
- otherwise pass, with the register as evidence.

Every other organisational item stays ``manual`` with the evidence it needs, unless inventory
attaches evidence to it (``iryo_evidence``: reference, who confirmed it, when): then it is
``pass`` with that evidence, or ``fail`` when the confirmation is older than the threshold.

Structure is validated before any host is touched (``validate_contracts``/``validate_evidence``,
called from the iryo_inputs role): a bad date or an unknown clause is an input error; an absent
field is a finding, because an incomplete register is exactly what the audit must report.
"""

import datetime


from . import DATA_DIR, load_yaml
from .enrich import InputError, parse_date
from .schema import make_finding, some

CONTRACT_CHECK = "c09.contracts.evidence"
CONTRACT_FIELDS = ("provider", "service", "threat_responsibility_scope", "availability_sla", "last_confirmed",
                   "confirms", "evidence_ref")
# C.9: 「上記 1 及び 4 を満たしていることを…確認すること」
REQUIRED_CONFIRMS = ("C.1", "C.4")
EVIDENCE_FIELDS = ("evidence_ref", "confirmed_by", "last_confirmed")
EVIDENCE_OPTIONAL = ("summary",)


def default_max_age_months():
    data = load_yaml((DATA_DIR / "thresholds.yml").read_text(encoding="utf-8"))
    return int(data["organisation"]["evidence_max_age_months"]["value"])


def max_age_months(value):
    """The inventory's override (iryo_evidence_max_age_months) or the data file's threshold."""
    if value in (None, ""):
        return default_max_age_months()
    try:
        months = int(value)
    except (TypeError, ValueError):
        raise InputError("iryo_evidence_max_age_months must be a whole number of months, got %r" % (value,)) from None
    if months < 1:
        raise InputError("iryo_evidence_max_age_months must be at least 1, got %d" % months)
    return months


def months_before(day, months):
    """The same day ``months`` earlier (the last day of that month when it is shorter)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return datetime.date(year, month, candidate)
        except ValueError:
            continue
    raise ValueError(day)


def _present(value):
    if value is None:
        return False
    if isinstance(value, (list, dict, str)):
        return bool(value if not isinstance(value, str) else value.strip())
    return True


def _check_date(value, where, today):
    day = parse_date(value, where)
    if day > today:
        raise InputError("%s: %s lies in the future" % (where, day.isoformat()))
    return day


def validate_contracts(contracts, catalog, host="?", today=None):
    """Refuse a malformed register (types, dates, clause ids); return it normalised.

    Missing fields are not refused here: the audit reports them as a failing finding.
    """
    today = today or datetime.date.today()
    if contracts in (None, ""):
        return None
    if not isinstance(contracts, list):
        raise InputError("host %s: iryo_contracts must be a list of contracts, got %s"
                         % (host, type(contracts).__name__))
    clauses = set(catalog.clause_ids())
    normalised = []
    for index, entry in enumerate(contracts):
        where = "host %s: iryo_contracts[%d]" % (host, index)
        if not isinstance(entry, dict):
            raise InputError("%s must be a mapping with %s" % (where, ", ".join(CONTRACT_FIELDS)))
        unknown = sorted(set(entry) - set(CONTRACT_FIELDS) - {"notes"})
        if unknown:
            raise InputError("%s: unknown field(s) %s (allowed: %s, notes)"
                             % (where, ", ".join(unknown), ", ".join(CONTRACT_FIELDS)))
        item = dict(entry)
        if _present(entry.get("last_confirmed")):
            item["last_confirmed"] = _check_date(entry["last_confirmed"], where + ".last_confirmed", today).isoformat()
        confirms = entry.get("confirms")
        if confirms is not None:
            if isinstance(confirms, str) or not isinstance(confirms, list):
                raise InputError("%s.confirms must be a list of clause ids such as [C.1, C.4]" % where)
            bad = [str(c) for c in confirms if str(c) not in clauses]
            if bad:
                raise InputError("%s.confirms: %s not clause ids of the catalog (e.g. C.1, C.4)"
                                 % (where, ", ".join(bad)))
            item["confirms"] = [str(c) for c in confirms]
        for field in ("provider", "service", "threat_responsibility_scope", "availability_sla", "evidence_ref"):
            if entry.get(field) is not None and not isinstance(entry[field], (str, int, float)):
                raise InputError("%s.%s must be text" % (where, field))
        normalised.append(item)
    return normalised


def validate_evidence(evidence, catalog, host="?", today=None):
    """Refuse malformed ``iryo_evidence`` (check id -> {evidence_ref, confirmed_by, last_confirmed})."""
    today = today or datetime.date.today()
    if evidence in (None, ""):
        return {}
    if not isinstance(evidence, dict):
        raise InputError("host %s: iryo_evidence must map manual check ids to their evidence, got %s"
                         % (host, type(evidence).__name__))
    normalised = {}
    for check_id, entry in evidence.items():
        where = "host %s: iryo_evidence[%s]" % (host, check_id)
        try:
            check = catalog.check(check_id)
        except KeyError as exc:
            raise InputError("%s: %s" % (where, exc.args[0])) from None
        if check["kind"] != "manual":
            raise InputError("%s: only organisational (manual) items take evidence here; %s is decided by a "
                             "check on the hosts" % (where, check_id))
        if not isinstance(entry, dict):
            raise InputError("%s must be a mapping with %s" % (where, ", ".join(EVIDENCE_FIELDS)))
        missing = [f for f in EVIDENCE_FIELDS if not _present(entry.get(f))]
        if missing:
            raise InputError("%s lacks %s (evidence needs a reference, who confirmed it and when)"
                             % (where, ", ".join(missing)))
        unknown = sorted(set(entry) - set(EVIDENCE_FIELDS) - set(EVIDENCE_OPTIONAL))
        if unknown:
            raise InputError("%s: unknown field(s) %s" % (where, ", ".join(unknown)))
        normalised[check_id] = dict(entry, last_confirmed=_check_date(entry["last_confirmed"],
                                                                        where + ".last_confirmed", today).isoformat())
    return normalised


def contracts_finding(contracts, months, today=None, host="_organisation"):
    """One finding for check c09.contracts.evidence from the (validated) register."""
    today = today or datetime.date.today()
    oldest_allowed = months_before(today, months)
    expected = {"fields": list(CONTRACT_FIELDS), "confirms": list(REQUIRED_CONFIRMS),
                "last_confirmed_not_before": oldest_allowed.isoformat(), "max_age_months": months}
    if not contracts:
        return make_finding(
            CONTRACT_CHECK, "fail", "medium", "iryo_contracts", {"contracts": []}, expected,
            "Declare every carrier and online-service contract in inventory (iryo_contracts: provider, service, "
            "threat_responsibility_scope, availability_sla, last_confirmed, confirms [C.1, C.4], evidence_ref); "
            "see docs/evidence-register.md.", False, host=host,
            summary="no carrier or online-service contract is recorded (iryo_contracts); required: each contract "
                    "with its scope, SLA and the provider's C.1/C.4 confirmation within %d months" % months)
    problems = []
    for index, contract in enumerate(contracts):
        name = "%s / %s" % (contract.get("provider") or "contract %d" % index, contract.get("service") or "?")
        missing = [f for f in CONTRACT_FIELDS if not _present(contract.get(f))]
        if missing:
            problems.append("%s: missing %s" % (name, ", ".join(missing)))
        lacking = [c for c in REQUIRED_CONFIRMS if c not in (contract.get("confirms") or [])]
        if lacking and "confirms" not in missing:
            problems.append("%s: the provider's confirmation of %s is not recorded" % (name, ", ".join(lacking)))
        if _present(contract.get("last_confirmed")):
            day = datetime.date.fromisoformat(str(contract["last_confirmed"]))
            if day < oldest_allowed:
                problems.append("%s: last confirmed %s, more than %d months ago" % (name, day.isoformat(), months))
    evidence = {"contracts": contracts}
    if problems:
        return make_finding(
            CONTRACT_CHECK, "fail", "medium", "iryo_contracts", dict(evidence, problems=problems), expected,
            "Complete the register and re-confirm stale contracts with the provider: " + "; ".join(problems) + ".",
            False, host=host,
            summary="%s; required: every field, C.1/C.4 confirmed, within %d months"
                    % (some(problems, 2, sep="; ", width=180), months))
    return make_finding(CONTRACT_CHECK, "pass", "medium", "iryo_contracts", evidence, expected, "", False, host=host,
                        summary="%d contract%s recorded, each complete with C.1/C.4 confirmed within %d months"
                                % (len(contracts), "" if len(contracts) == 1 else "s", months))


def manual_finding(check, evidence, months, today=None, host="_organisation"):
    """An organisational item: manual, or pass/fail when inventory attached evidence to it."""
    today = today or datetime.date.today()
    needed = {"evidence_needed": list(check["evidence_needed"])}
    expected = {"evidence": "documented, current and approved"}
    if evidence is None:
        return make_finding(check["id"], "manual", check["severity"], target="organisation", evidence=needed,
                            expected=expected,
                            remediation="Collect the evidence listed and keep it with the audit records "
                                        "(or record it in iryo_evidence).",
                            fixable=False, host=host,
                            summary="no evidence recorded yet; needed: %s"
                                    % some(check["evidence_needed"], 2, sep="; ", width=200))
    oldest_allowed = months_before(today, months)
    expected = dict(expected, last_confirmed_not_before=oldest_allowed.isoformat(), max_age_months=months)
    seen = dict(needed, recorded=evidence)
    if datetime.date.fromisoformat(evidence["last_confirmed"]) < oldest_allowed:
        return make_finding(check["id"], "fail", check["severity"], "organisation", seen, expected,
                            "The recorded evidence was last confirmed %s, more than %d months ago; confirm it again."
                            % (evidence["last_confirmed"], months), False, host=host,
                            summary="evidence %s was last confirmed %s, more than %d months ago; required: confirmed "
                                    "within %d months" % (evidence["evidence_ref"], evidence["last_confirmed"],
                                                          months, months))
    return make_finding(check["id"], "pass", check["severity"], "organisation", seen, expected, "", False, host=host,
                        summary="evidence %s confirmed %s by %s" % (evidence["evidence_ref"],
                                                                    evidence["last_confirmed"],
                                                                    evidence["confirmed_by"]))
