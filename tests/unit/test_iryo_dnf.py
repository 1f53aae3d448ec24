"""module_utils/iryo_dnf.py against real dnf output captured elsewhere (RHEL cannot run in this lab).

Each fixture's source, distribution and dnf version are in tests/fixtures/dnf/README.md.
"""

from pathlib import Path

import pytest

import iryo_dnf
from iryo_dnf import DnfError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dnf"


def fixture(name):
    return (FIXTURES / name).read_text()


# --- updateinfo -------------------------------------------------------------------------------

def test_rocky8_updateinfo_list_keeps_every_row_and_marks_security():
    advisories = iryo_dnf.parse_updateinfo(fixture("rocky8-dnf4-updateinfo-list.txt"))
    assert len(advisories) == 19
    security = [a for a in advisories if a["security"]]
    assert len(security) == 14
    assert {a["type"] for a in advisories if not a["security"]} == {"enhancement", "bugfix", "newpackage"}
    assert security[0] == {"package": "curl", "nevra": "curl-7.61.1-22.el8_6.4.x86_64", "arch": "x86_64",
                           "evr": "7.61.1-22.el8_6.4", "advisory": "RLSA-2022:6159", "type": "security",
                           "severity": "Moderate", "security": True}
    kernel = [a for a in security if a["package"] == "kernel-core"]
    assert [(a["advisory"], a["evr"]) for a in kernel] == [("RLSA-2022:5564", "4.18.0-372.16.1.el8_6"),
                                                           ("RLSA-2022:5819", "4.18.0-372.19.1.el8_6")]
    assert {a["severity"] for a in security} == {"Moderate", "Important"}
    koji = next(a for a in advisories if a["package"] == "python3-koji-cli-plugins")
    assert (koji["arch"], koji["severity"], koji["security"]) == ("noarch", None, False)


def test_epoch_in_the_nevra_is_kept_in_evr_and_not_in_the_name():
    advisories = iryo_dnf.parse_updateinfo(fixture("rhel7-yum-updateinfo-list-sec-rows.txt"))
    assert len(advisories) == 11
    nm = advisories[0]
    assert (nm["package"], nm["evr"], nm["arch"]) == ("NetworkManager", "1:1.12.0-8.el7_6", "x86_64")
    assert advisories[3]["package"] == "NetworkManager-config-server"
    assert {a["severity"] for a in advisories} == {"Important"}


def test_low_severity_label_with_wide_padding():
    advisories = iryo_dnf.parse_updateinfo(fixture("rhel7-yum-updateinfo-list-sec-low-rows.txt"))
    assert [(a["package"], a["severity"]) for a in advisories] == [
        ("libgudev1", "Low"), ("systemd", "Low"), ("systemd-libs", "Low"), ("systemd-sysv", "Low")]


def test_dnf5_advisory_table_with_columns_cut_to_the_terminal():
    advisories = iryo_dnf.parse_updateinfo(fixture("fedora40-dnf5-advisory-list.txt"))
    assert len(advisories) == 9
    glib = [a for a in advisories if a["security"]]
    assert [(a["package"], a["advisory"], a["severity"], a["type"]) for a in glib] == [
        ("glib2-debuginfo", "FEDORA-2024-635a54eb7e", "Important", "security"),
        ("glib2-debugsource", "FEDORA-2024-635a54eb7e", "Important", "security")]
    types = {a["advisory"]: a["type"] for a in advisories}
    assert types["FEDORA-2024-1e8a70c30e"] == "enhancement"
    assert types["FEDORA-2024-27b58399dc"] == "bugfix"
    assert types["FEDORA-2024-fbfda3f679"] == "unsp"  # dnf5's "unspecified", cut: kept, not security


def test_empty_updateinfo_is_no_advisories():
    assert iryo_dnf.parse_updateinfo("") == []
    assert iryo_dnf.parse_updateinfo("\n\n") == []


@pytest.mark.parametrize("name", ["rocky8-dnf4-updateinfo-summary.txt", "fedora41-dnf5-updateinfo-summary.txt",
                                  "fedora25-dnf-check-update.txt"])
def test_output_of_another_command_is_an_error_not_an_empty_list(name):
    with pytest.raises(DnfError, match="unrecognised updateinfo output"):
        iryo_dnf.parse_updateinfo(fixture(name))


@pytest.mark.parametrize("text", [
    "RLSA-2022:6159 Moderate/Sec.\n",                                       # row cut short
    "RLSA-2022:6159 Moderate/Sec. curl-7.61.1-22.el8_6.4.x86_64 extra\n",   # a column too many
    "RLSA-2022:6159 Moderate/Sec. curl\n",                                  # not a NEVRA
    "RLSA-2022:6159 Sometimes curl-7.61.1-22.el8_6.4.x86_64\n",             # unknown label
    "\x00\xff garbage\n",
])
def test_malformed_updateinfo_rows_raise(text):
    with pytest.raises(DnfError):
        iryo_dnf.parse_updateinfo(fixture("rocky8-dnf4-updateinfo-list.txt") + text)


# --- check-update -----------------------------------------------------------------------------

def test_fedora25_check_update_with_the_metadata_line():
    updates = iryo_dnf.parse_check_update(fixture("fedora25-dnf-check-update.txt"), 100)
    assert len(updates) == 10
    assert updates[0] == {"package": "PackageKit", "arch": "x86_64", "candidate": "1.1.4-2.fc25", "repo": "updates"}
    assert ("cockpit-networkmanager", "noarch") in {(u["package"], u["arch"]) for u in updates}


def test_quiet_check_update_with_wide_columns_and_trailing_blanks():
    updates = iryo_dnf.parse_check_update(fixture("fedora40-dnf4-check-update-q.txt"), 100)
    assert [(u["package"], u["candidate"], u["repo"]) for u in updates] == [
        ("brave-browser", "1.71.121-1", "brave-browser-rpm-release.s3.brave.com_x86_64_"),
        ("code", "1.95.0-1730153639.el8", "code"),
        ("dkms", "3.1.1-1.fc40", "updates")]


def test_dnf5_check_update():
    [update] = iryo_dnf.parse_check_update(fixture("fedora41-dnf5-check-update-q.txt"), 100)
    assert update == {"package": "warp-terminal", "arch": "x86_64", "candidate": "v0.2024.10.29.08.02.stable_02-1",
                      "repo": "warpdotdev"}


def test_epoch_candidates():
    updates = iryo_dnf.parse_check_update(fixture("rhel7-yum-check-update-security-rows.txt"), 100)
    assert len(updates) == 7
    assert {u["candidate"] for u in updates} == {"1:1.12.0-10.el7_6"}


def test_wrapped_rows_are_joined():
    # dnf 4 formats for 80 columns without a terminal and moves what follows a too-wide name to
    # the next line (cli/output.py fmtColumns); rows rebuilt from the real Fedora 25 sample.
    real = fixture("fedora25-dnf-check-update.txt").splitlines()
    wrapped = "\n".join(real[:2] + ["cockpit-networkmanager-with-a-much-longer-name.noarch",
                                    " " * 42 + "126-1.fc25                     updates"] + real[2:]) + "\n"
    updates = iryo_dnf.parse_check_update(wrapped, 100)
    assert len(updates) == 11
    assert {"package": "cockpit-networkmanager-with-a-much-longer-name", "arch": "noarch",
            "candidate": "126-1.fc25", "repo": "updates"} in updates


def test_rc0_with_no_output_is_no_updates():
    assert iryo_dnf.parse_check_update("", 0) == []
    assert iryo_dnf.parse_check_update("\n", 0) == []


def test_rc100_without_rows_is_an_error_never_no_updates():
    with pytest.raises(DnfError, match="rc=100"):
        iryo_dnf.parse_check_update("\n", 100)


def test_rc0_with_rows_is_contradictory():
    with pytest.raises(DnfError, match="exited 0"):
        iryo_dnf.parse_check_update(fixture("fedora25-dnf-check-update.txt"), 0)


@pytest.mark.parametrize("name", ["alma85-dnf-check-update-metadata-error.txt", "rhel8-dnf-metadata-curl-error.txt"])
def test_metadata_failure_is_named(name):
    with pytest.raises(DnfError, match="repository metadata could not be fetched") as exc:
        iryo_dnf.parse_check_update(fixture(name), 1)
    assert "Failed to download metadata for repo" in str(exc.value)


@pytest.mark.parametrize("tail", [
    "PackageKit.x86_64 1.1.4-2.fc25\n",                   # repo column lost
    "PackageKit 1.1.4-2.fc25 updates\n",                  # no arch
    "PackageKit.x86_64 1.1.4-2.fc25 updates surplus\n",
    "Some unexpected plugin message here\n",
])
def test_malformed_check_update_raises(tail):
    with pytest.raises(DnfError):
        iryo_dnf.parse_check_update(fixture("fedora25-dnf-check-update.txt") + tail, 100)


def test_obsoleting_section_is_not_read_as_updates():
    # The "Obsoleting Packages" heading is dnf 4's (cli/commands/__init__.py); rows after it
    # are obsoleters already in the list above and the packages they replace.
    text = fixture("fedora25-dnf-check-update.txt") + "Obsoleting Packages\nanything below is not read\n"
    assert len(iryo_dnf.parse_check_update(text, 100)) == 10


# --- combining --------------------------------------------------------------------------------

def test_build_pending_has_the_apt_shape_plus_advisories():
    updates = iryo_dnf.parse_check_update(fixture("rhel7-yum-check-update-security-rows.txt"), 100)
    security = [u for u in updates if u["package"] != "NetworkManager-ppp"]
    advisories = iryo_dnf.parse_updateinfo(fixture("rhel7-yum-updateinfo-list-sec-rows.txt"))
    pending = iryo_dnf.build_pending(updates, security, advisories)
    assert len(pending) == 7
    nm = pending[0]
    assert nm == {"package": "NetworkManager", "installed": None, "candidate": "1:1.12.0-10.el7_6",
                  "arch": "x86_64", "origins": ["rhel-7-server-rpms"], "security": True,
                  "advisories": ["RHSA-2018:3665"], "severity": "Important"}
    ppp = next(p for p in pending if p["package"] == "NetworkManager-ppp")
    assert ppp["security"] is False
    apt_keys = {"package", "installed", "candidate", "arch", "origins", "security"}
    assert all(apt_keys <= set(p) for p in pending)


def test_build_pending_refuses_security_updates_missing_from_the_full_list():
    updates = iryo_dnf.parse_check_update(fixture("fedora25-dnf-check-update.txt"), 100)
    security = iryo_dnf.parse_check_update(fixture("fedora41-dnf5-check-update-q.txt"), 100)
    with pytest.raises(DnfError, match="warp-terminal"):
        iryo_dnf.build_pending(updates, security, [])


# --- needs-restarting -------------------------------------------------------------------------

def test_alma8_reboot_required():
    required, reasons = iryo_dnf.parse_needs_restarting(fixture("alma8-needs-restarting-r-rc1.txt"), 1)
    assert required is True
    assert reasons == ["updated since boot: glibc", "updated since boot: linux-firmware"]


def test_dnf_ci_both_exit_codes():
    assert iryo_dnf.parse_needs_restarting(fixture("dnfci-needs-restarting-r-rc1.txt"), 1) == (
        True, ["updated since boot: glibc", "updated since boot: kernel"])
    assert iryo_dnf.parse_needs_restarting(fixture("dnfci-needs-restarting-r-rc0.txt"), 0) == (False, [])


@pytest.mark.parametrize("name,rc", [
    ("fedora21-needs-restarting-no-r-option.txt", 2),   # the old tool without -r
    ("fedora21-needs-restarting-no-r-option.txt", 1),
    ("dnfci-needs-restarting-r-rc1.txt", 0),             # text and exit code disagree
    ("dnfci-needs-restarting-r-rc0.txt", 1),
])
def test_needs_restarting_failures_are_errors_not_verdicts(name, rc):
    with pytest.raises(DnfError):
        iryo_dnf.parse_needs_restarting(fixture(name), rc)


# "No such command: %s. Please use %s --help" is dnf's own message (dnf/cli/cli.py)
NO_PLUGIN = "No such command: needs-restarting. Please use /usr/bin/dnf --help\n"


@pytest.mark.parametrize("text,rc", [("", 0), ("", 1), (NO_PLUGIN, 1)])
def test_needs_restarting_silence_or_missing_plugin_is_an_error(text, rc):
    with pytest.raises(DnfError):
        iryo_dnf.parse_needs_restarting(text, rc)


# --- transaction table ------------------------------------------------------------------------

def test_dnf5_upgrade_table_with_replaced_packages():
    plan = iryo_dnf.parse_transaction(fixture("fedora42-dnf5-upgrade-transaction.txt"))
    assert plan["nothing_to_do"] is False
    assert plan["packages"] == [
        {"action": "upgrade", "package": "curl", "arch": "x86_64", "version": "8.11.1-5.fc42", "repo": "updates"},
        {"action": "upgrade", "package": "libcurl", "arch": "x86_64", "version": "8.11.1-5.fc42", "repo": "updates"},
        {"action": "upgrade", "package": "libdrm", "arch": "x86_64", "version": "2.4.125-1.fc42", "repo": "updates"}]
    assert [(r["package"], r["version"]) for r in plan["replaced"]] == [
        ("curl", "8.11.1-4.fc42"), ("libcurl", "8.11.1-4.fc42"), ("libdrm", "2.4.124-2.fc42")]


def test_dnf4_table_sections_are_kept_apart():
    plan = iryo_dnf.parse_transaction(fixture("rocky8-dnf4-transaction-install-downgrade.txt"))
    assert [(p["action"], p["package"]) for p in plan["packages"]] == [
        ("install", "kernel"), ("install", "kernel-core"), ("install", "kernel-devel"),
        ("install-dep", "kernel-modules"), ("downgrade", "kernel-headers"), ("downgrade", "kernel-tools"),
        ("downgrade", "kernel-tools-libs")]
    assert {p["version"] for p in plan["packages"]} == {"4.18.0-425.13.1.el8_7"}


def test_narrow_terminal_table_rows_are_rejoined():
    plan = iryo_dnf.parse_transaction(fixture("fedora19-dnf1-upgrade-wrapped.txt"))
    assert [(p["package"], p["arch"], p["version"], p["repo"]) for p in plan["packages"]] == [
        ("VirtualBox-4.3", "x86_64", "4.3.28_100309_fedora18-1", "virtualbox"),
        ("acpi", "x86_64", "1.7-1.fc19", "updates"),
        ("bjnplugin", "x86_64", "2.100.85.8-1", "bluejeans"),
        ("google-chrome-stable", "x86_64", "43.0.2357.132-1", "google-chrome"),
        ("rbjnplugin", "x86_64", "2.90.616.8-1", "bluejeans"),
        ("sqlite", "i686", "3.8.3-1.fc19", "updates")]
    assert {p["action"] for p in plan["packages"]} == {"upgrade"}


def test_nothing_to_do():
    assert iryo_dnf.parse_transaction(fixture("fedora19-dnf1-nothing-to-do.txt")) == {
        "nothing_to_do": True, "packages": [], "replaced": []}


def test_truncated_table_is_an_error():
    with pytest.raises(DnfError, match="Transaction Summary"):
        iryo_dnf.parse_transaction(fixture("fedora43-dnf5-upgrade-security-truncated.txt"))


@pytest.mark.parametrize("mutate", [
    lambda t: t.replace("Upgrading:", "Frobnicating:"),                            # unknown section
    lambda t: t.replace(" libdrm              x86_64 2.4.125-1.fc42 updates    395.8 KiB", " libdrm x86_64"),
    lambda t: "",                                                                   # nothing at all
    lambda t: "Dependencies resolved.\n",
])
def test_malformed_tables_raise(mutate):
    with pytest.raises(DnfError):
        iryo_dnf.parse_transaction(mutate(fixture("fedora42-dnf5-upgrade-transaction.txt")))


# --- running dnf through a module-like object -------------------------------------------------

class FakeModule:
    """run_command/get_bin_path answering with captured outputs: dnf cannot run on this Debian lab."""

    def __init__(self, answers, bins=("dnf",)):
        self.answers, self.bins, self.calls = answers, bins, []

    def get_bin_path(self, name):
        return "/usr/bin/" + name if name in self.bins else None

    def run_command(self, argv, environ_update=None):
        self.calls.append((list(argv), environ_update))
        key = " ".join(argv[1:])
        if key not in self.answers:
            raise AssertionError("unexpected command: %s" % " ".join(argv))
        return self.answers[key]


def test_pending_updates_runs_the_three_queries_in_the_c_locale():
    module = FakeModule({
        "--version": (0, "4.14.0\n  Installed: dnf-0:4.14.0-9.el9.noarch\n", ""),
        "-q check-update": (100, fixture("rhel7-yum-check-update-security-rows.txt"), ""),
        "-q check-update --security": (100, fixture("rhel7-yum-check-update-security-rows.txt"), ""),
        "-q updateinfo list --security --available": (0, fixture("rhel7-yum-updateinfo-list-sec-rows.txt"), ""),
    })
    pending = iryo_dnf.pending_updates(module)
    assert len(pending) == 7 and all(p["security"] for p in pending)
    assert all(env == {"LANG": "C", "LC_ALL": "C"} for _, env in module.calls)


def test_metadata_error_surfaces_from_pending_updates():
    module = FakeModule({
        "--version": (0, "4.14.0\n", ""),
        "-q check-update": (1, "", fixture("alma85-dnf-check-update-metadata-error.txt")),
    })
    with pytest.raises(DnfError, match="repository metadata could not be fetched"):
        iryo_dnf.pending_updates(module)


def test_reboot_prefers_the_needs_restarting_tool_and_falls_back_to_the_plugin():
    tool = FakeModule({"-r": (1, fixture("alma8-needs-restarting-r-rc1.txt"), "")}, bins=("dnf", "needs-restarting"))
    assert iryo_dnf.reboot_required(tool)[0] is True
    assert tool.calls[0][0] == ["/usr/bin/needs-restarting", "-r"]
    plugin = FakeModule({"--version": (0, "4.14.0\n", ""),
                         "needs-restarting -r": (0, fixture("dnfci-needs-restarting-r-rc0.txt"), "")})
    assert iryo_dnf.reboot_required(plugin) == (False, [])
    missing = FakeModule({"--version": (0, "4.14.0\n", ""),
                          "needs-restarting -r": (1, "", NO_PLUGIN)})
    with pytest.raises(DnfError, match="dnf-utils"):
        iryo_dnf.reboot_required(missing)


def test_plan_accepts_the_assumeno_abort_and_rejects_errors():
    abort = fixture("fedora42-dnf5-upgrade-transaction.txt") + "Operation aborted by the user.\n"
    module = FakeModule({"--version": (0, "dnf5 version 5.2.8.1\n", ""),
                         "upgrade --security --assumeno": (1, abort, "")})
    plan = iryo_dnf.security_upgrade_plan(module)
    assert [p["package"] for p in plan["packages"]] == ["curl", "libcurl", "libdrm"]
    depsolve = fixture("alma89-dnf-upgrade-security-depsolve-error.txt")
    failing = FakeModule({"--version": (0, "4.14.0\n", ""), "upgrade --security --assumeno": (1, depsolve, "")})
    with pytest.raises(DnfError, match="Error"):
        iryo_dnf.security_upgrade_plan(failing)


def test_apply_uses_the_security_filter_only():
    module = FakeModule({"--version": (0, "4.14.0\n", ""), "-y upgrade --security": (0, "Complete!\n", "")})
    iryo_dnf.apply_security_upgrade(module)
    assert module.calls[-1][0] == ["/usr/bin/dnf", "-y", "upgrade", "--security"]
    with pytest.raises(DnfError):
        iryo_dnf.apply_security_upgrade(FakeModule({"--version": (0, "4.14.0\n", ""),
                                                    "-y upgrade --security": (1, "Error: Transaction failed\n", "")}))


def test_dnf_major_version():
    assert iryo_dnf.dnf_binary(FakeModule({"--version": (0, "dnf5 version 5.2.8.1\n", "")}))[1] == 5
    assert iryo_dnf.dnf_binary(FakeModule({"--version": (0, "4.14.0\n  Installed: dnf-0:4.14.0\n", "")}))[1] == 4
    with pytest.raises(DnfError):
        iryo_dnf.dnf_binary(FakeModule({}, bins=()))
