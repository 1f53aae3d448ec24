"""patch_level on the RHEL family: the module's dnf path end to end, with dnf's answers replayed from
real captured output (tests/fixtures/dnf/README.md names each source; no RHEL host runs here)."""

import pytest

from library_loader import load_library_module
from test_iryo_dnf import FakeModule, fixture

patch_level = load_library_module("patch_level")

DNF4 = (0, "4.14.0\n  Installed: dnf-0:4.14.0-9.el9.noarch\n", "")
QUERIES = {
    "--version": DNF4,
    "-q check-update": (100, fixture("rhel7-yum-check-update-security-rows.txt"), ""),
    "-q check-update --security": (100, fixture("rhel7-yum-check-update-security-rows.txt"), ""),
    "-q updateinfo list --security --available": (0, fixture("rhel7-yum-updateinfo-list-sec-rows.txt"), ""),
}
REBOOT = {"-r": (1, fixture("alma8-needs-restarting-r-rc1.txt"), "")}


class Done(Exception):
    pass


class Module(FakeModule):
    """The AnsibleModule surface patch_level uses: params, check_mode, exit_json, fail_json."""

    def __init__(self, answers, check_mode=False, **params):
        super().__init__(answers, bins=("dnf", "needs-restarting"))
        self.check_mode = check_mode
        self.params = dict(backend="auto", max_lists_age_hours=100000, max_security_age_days=14,
                           update_cache=False, apply="none", eol_releases=None)
        self.params.update(params)

    def exit_json(self, **result):
        raise Done(result)

    def fail_json(self, **result):
        raise Done(dict(result, failed=True))


def run(module):
    assert patch_level.choose_backend(module) == "dnf", "apt-get is absent and dnf present: the dnf backend"
    with pytest.raises(Done) as done:
        patch_level.run_dnf(module)
    return done.value.args[0]


def by_check(result):
    return {f["check"]: f for f in result["findings"]}


def test_audit_reports_dnf_security_updates_and_needs_restarting(monkeypatch):
    monkeypatch.setattr(patch_level, "dnf_metadata_age_hours", lambda: 2.0)
    result = run(Module(dict(QUERIES, **REBOOT)))
    findings = by_check(result)
    pending = findings["c12.patches.security_pending"]
    assert pending["status"] == "fail" and pending["target"] == "dnf"
    assert len(pending["evidence"]["pending_security"]) == 7 == len(result["security_pending"])
    reboot = findings["c12.patches.reboot_required"]
    assert reboot["status"] == "fail" and reboot["evidence"]["tool"] == "needs-restarting -r"
    assert result["changed"] is False and result["backend"] == "dnf"


def test_never_fetched_metadata_is_an_error_not_a_pass(monkeypatch):
    monkeypatch.setattr(patch_level, "dnf_metadata_age_hours", lambda: None)
    result = run(Module(dict(QUERIES, **REBOOT)))
    assert by_check(result)["c12.patches.security_pending"]["status"] == "error"


def test_check_mode_lists_the_planned_packages_and_installs_nothing(monkeypatch):
    monkeypatch.setattr(patch_level, "dnf_metadata_age_hours", lambda: 2.0)
    plan = fixture("fedora42-dnf5-upgrade-transaction.txt") + "Operation aborted by the user.\n"
    answers = dict(QUERIES, **REBOOT, **{"upgrade --security --assumeno": (1, plan, "")})
    module = Module(answers, check_mode=True, apply="security")
    result = run(module)
    assert [i["package"] for i in result["installed"]] == ["curl", "libcurl", "libdrm"]
    assert "curl" in result["diff"][0]["after"] and result["changed"] is True
    assert not any("-y" in argv for argv, _ in module.calls), "check mode must not run dnf -y"


def test_a_plan_that_downgrades_is_refused(monkeypatch):
    monkeypatch.setattr(patch_level, "dnf_metadata_age_hours", lambda: 2.0)
    plan = fixture("rocky8-dnf4-transaction-install-downgrade.txt")
    answers = dict(QUERIES, **REBOOT, **{"upgrade --security --assumeno": (1, plan, "")})
    result = run(Module(answers, apply="security"))
    assert result["failed"] and "kernel-headers" in result["msg"] and "downgrade" in result["msg"]


def test_a_dnf_error_fails_the_module_with_dnfs_reason():
    answers = {"--version": DNF4, "-q check-update": (1, "", fixture("alma85-dnf-check-update-metadata-error.txt"))}
    result = run(Module(answers))
    assert result["failed"] and "metadata" in result["msg"]
