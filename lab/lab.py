#!/usr/bin/env python3
"""iryo-guard lab: simulated Japanese hospital servers for the audit to run against.

Real Debian systems under systemd in podman containers, reached over SSH on 127.0.0.1 and seeded
non-compliant with MHLW guideline 5.2 §6.11 (docs/lab.md lists hosts and seeded weaknesses).

    lab.py build [--force]   build the images (mmdebstrap) and the internal mirror's packages; cached
    lab.py image-tag CODENAME  print this checkout's image tag for bookworm or trixie (tests use it)
    lab.py up [--hosts N]    start the lab (building missing images first), write inventory/lab/hosts.yml
    lab.py down              remove containers, network, mirror tree and hosts.yml (keeps images, cache)
    lab.py status            hosts, state, ports
    lab.py broken-update publish|withdraw   a deliberately broken security update on the mirror (rollout test)

Standard library only. Runs as root; needs podman (runc, netavark, aardvark-dns, iptables),
mmdebstrap, dpkg, gnupg, openssl and openssh-client on the controller.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime
import fcntl
import gzip
import hashlib
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

LAB = Path(__file__).resolve().parent
REPO = LAB.parent
IMAGES = LAB / "images"
CONTAINERS_CONF = LAB / "containers.conf"

CACHE = LAB / ".cache"  # kept by `down`: images are rebuilt only when their recipe changes
APT_CACHE = CACHE / "apt"  # every .deb apt downloaded, per codename (mmdebstrap sync-in/sync-out)
BUILD_DIR = CACHE / "build"  # build logs and temporary tarballs
REPO_CACHE = CACHE / "repo"  # prepared mirror trees (pool + Packages indexes), one per image
GNUPG_HOME = CACHE / "gnupg"  # the mirror's signing key lives with the images that trust it
ARCHIVE_KEYRING = GNUPG_HOME / "iryo-lab-archive-keyring.gpg"

STATE = LAB / ".state"  # the running lab's secrets and data
MIRROR = STATE / "mirror"  # served read-only by the mirror container
PKI = STATE / "pki"
SSH_KEY = STATE / "id_ed25519"
KNOWN_HOSTS = STATE / "known_hosts"
LOCK_FILE = STATE / ".lock"
INVENTORY = REPO / "inventory" / "lab" / "hosts.yml"
INVENTORY_MARK = "# iryo-lab: written by lab/lab.py up; `lab.py down` removes it. Do not edit."

LABEL = "iryo-lab=1"
ADMIN_USER = "iryoadmin"  # made in the image (customize.sh): key login, passwordless sudo
NETWORK = "iryo-lab"
CONTAINER_PREFIX = "iryo-lab-"
IMAGE_NAME = "localhost/iryo-lab"
DOMAIN = "lab.iryo"
TLS_DIRS = {"portal": "/etc/nginx/ssl", "ehr": "/etc/apache2/ssl"}

# Every wait has a limit, so a broken lab fails with a message instead of hanging.
MMDEBSTRAP_TIMEOUT = 1200
IMPORT_TIMEOUT = 600
BOOT_TIMEOUT = 180
SSH_TIMEOUT = 60
APT_TIMEOUT = 300
LOCK_TIMEOUT = 1800

ENV = dict(os.environ, CONTAINERS_CONF=str(CONTAINERS_CONF), LC_ALL="C.UTF-8")


class LabError(Exception):
    """A failure with a message for the person running the lab; printed without a traceback."""


def log(message: str) -> None:
    print(message, flush=True)


def warn(message: str) -> None:
    print("WARNING: " + message, file=sys.stderr, flush=True)


def tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run(cmd, *, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command with a time limit and turn every failure into a LabError with its output."""
    cmd = [str(c) for c in cmd]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=ENV)
    except FileNotFoundError:
        raise LabError("%s is not installed (docs/lab.md lists the Debian packages the lab needs)" % cmd[0]) from None
    except subprocess.TimeoutExpired:
        raise LabError("timed out after %ss: %s" % (timeout, shlex.join(cmd))) from None
    if check and result.returncode != 0:
        raise LabError("command failed (exit %d): %s\n%s" % (result.returncode, shlex.join(cmd),
                                                             tail(result.stderr + result.stdout)))
    return result


def podman(*args, timeout: float = 60, check: bool = True):
    return run(["podman", *args], timeout=timeout, check=check)


def require(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        raise LabError("missing on this controller: %s (docs/lab.md lists the Debian packages)" % ", ".join(missing))


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab runs rootful podman and mmdebstrap: run lab.py as root")


def check_podman() -> None:
    require("podman")
    result = podman("info", "--format", "{{.Host.OCIRuntime.Name}}", check=False, timeout=60)
    if result.returncode != 0:
        raise LabError("podman does not work here (CONTAINERS_CONF=%s):\n%s" % (CONTAINERS_CONF, tail(result.stderr)))


@contextlib.contextmanager
def lab_lock():
    """One lab.py build/up/down at a time: two `up`s racing would create the same containers."""
    STATE.mkdir(parents=True, exist_ok=True)
    with open(LOCK_FILE, "w") as handle:
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LabError("another lab.py has held %s for %ss" % (LOCK_FILE, LOCK_TIMEOUT)) from None
                time.sleep(1)
        yield


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def link_or_copy(source, target) -> None:
    """Hard links keep the mirror trees free; a copy is the fallback across file systems."""
    if os.path.lexists(target):
        # Codenames share the pool; a same-named .deb is the same file. Writing through an
        # existing hard link would change the cached original instead.
        return
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def deb_filename(package: str, version: str, arch: str) -> str:
    # apt's cache names: the epoch colon is URL-encoded.
    return "%s_%s_%s.deb" % (package, version.replace(":", "%3a"), arch)


# ==== BEGIN IMAGE RECIPE: this section, lab/images/** and the archive key make the image tag ====
CODENAMES = ("bookworm", "trixie")  # both required: files runs trixie, the OpenSSH 10 tests need it
DEBIAN_RELEASE = {"bookworm": "12", "trixie": "13"}
DEBIAN_URL = "http://deb.debian.org/debian"
IMPORT_CHANGES = ('CMD ["/sbin/init"]',)


def package_list() -> list[str]:
    lines = (IMAGES / "packages.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def mmdebstrap_command(codename: str, tarball: Path) -> list[str]:
    cache = APT_CACHE / codename
    customize = "sh %s \"$1\" %s %s" % (shlex.quote(str(IMAGES / "customize.sh")), codename,
                                        shlex.quote(str(ARCHIVE_KEYRING)))
    return [
        "mmdebstrap", "--variant=apt", "--include=" + ",".join(package_list()),
        # Keep every downloaded .deb in the chroot's apt cache: sync-out saves them for the next
        # build (no download) and for the lab mirror, which serves exactly the installed packages.
        "--skip=essential/unlink",
        "--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives/",
        "--setup-hook=sync-in %s /var/cache/apt/archives/" % shlex.quote(str(cache)),
        "--customize-hook=sync-out /var/cache/apt/archives %s" % shlex.quote(str(cache)),
        "--customize-hook=" + customize,
        # A throwaway chroot: no fsync per unpacked file (build time).
        "--dpkgopt=force-unsafe-io",
        codename, str(tarball), "deb %s %s main" % (DEBIAN_URL, codename),
    ]
# ==== END IMAGE RECIPE ====


# ==== BEGIN MIRROR RECIPE: with the image tag, this section keys the cached mirror tree ====
SECURITY_UPDATES = ("less", "nano")  # rebuilt with a higher version into <codename>-security
OTHER_UPDATES = ("file",)  # rebuilt into <codename>-updates: a pending update that is no security fix


def suites(codename: str) -> list[dict]:
    """The mirror's suites for one codename, laid out as on deb.debian.org and security.debian.org."""
    release = DEBIAN_RELEASE[codename]
    return [
        {"archive": "debian", "suite": codename, "label": "Debian",
         "description": "Debian %s (hospital internal mirror)" % release},
        {"archive": "debian", "suite": codename + "-updates", "label": "Debian",
         "description": "Debian %s - Updates (hospital internal mirror)" % release},
        {"archive": "debian-security", "suite": codename + "-security", "label": "Debian-Security",
         "description": "Debian %s - Security Updates (hospital internal mirror)" % release},
    ]


def lab_version(version: str, codename: str) -> str:
    # Appending "+debNNu99lab1" sorts after the installed version under dpkg's rules (checked below).
    return "%s+deb%su99lab1" % (version, DEBIAN_RELEASE[codename])


def rebuild_with_version(deb: Path, package: str, arch: str, version: str, new_version: str, out_dir: Path) -> Path:
    """The same package content under a higher version: a pending update that needs no internet."""
    if run(["dpkg", "--compare-versions", new_version, "gt", version], check=False).returncode != 0:
        raise LabError("%s does not sort after %s" % (new_version, version))
    out = out_dir / deb_filename(package, new_version, arch)
    with tempfile.TemporaryDirectory(dir=BUILD_DIR) as tmp:
        tree = Path(tmp) / "pkg"
        run(["dpkg-deb", "--raw-extract", deb, tree], timeout=120)
        control = tree / "DEBIAN" / "control"
        text = re.sub(r"(?m)^Version: .*$", "Version: " + new_version, control.read_text())
        control.write_text(text)
        run(["dpkg-deb", "-Zxz", "--build", tree, out], timeout=300)
    return out


def control_fields(deb: Path) -> tuple[str, dict]:
    text = run(["dpkg-deb", "--field", deb], timeout=60).stdout.rstrip("\n")
    fields = dict(re.findall(r"(?m)^([A-Za-z0-9-]+): ?(.*)$", text))
    return text, fields


def pool_path(archive_pool: str, fields: dict) -> str:
    source = fields.get("Source", fields["Package"]).split(" ")[0]
    prefix = source[:4] if source.startswith("lib") else source[:1]
    return "%s/%s/%s" % (archive_pool, prefix, source)


def add_to_suite(tree: Path, archive: str, pool: str, deb: Path, indexes: dict) -> None:
    """Place a .deb in the archive's pool and remember its Packages stanza for its suite."""
    control, fields = control_fields(deb)
    relative = "%s/%s" % (pool_path(pool, fields), deb.name)
    target = tree / archive / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        link_or_copy(deb, target)
    stanza = "%s\nFilename: %s\nSize: %d\nMD5sum: %s\nSHA256: %s\n" % (
        control, relative, target.stat().st_size, hashlib.md5(target.read_bytes()).hexdigest(),  # noqa: S324 - apt index field
        sha256_file(target))
    indexes.setdefault(fields["Architecture"], []).append(stanza)


def write_packages(dist: Path, indexes: dict) -> None:
    # Architecture: all packages appear in binary-amd64 too, as on Debian's mirrors.
    for arch, stanzas in (("amd64", indexes.get("amd64", []) + indexes.get("all", [])),
                          ("all", indexes.get("all", []))):
        folder = dist / "main" / ("binary-" + arch)
        folder.mkdir(parents=True, exist_ok=True)
        text = "\n".join(sorted(stanzas)).encode()
        (folder / "Packages").write_bytes(text)
        (folder / "Packages.gz").write_bytes(gzip.compress(text, mtime=0))


def build_repo(codename: str, manifest: dict, tree: Path) -> None:
    """Mirror tree for one codename: the installed packages, plus the seeded newer builds."""
    cache = APT_CACHE / codename
    base, updates, security = ({}, {}, {})
    rebuilt = tree / ".rebuilt"
    rebuilt.mkdir(parents=True)
    for package, (version, arch) in sorted(manifest.items()):
        deb = cache / deb_filename(package, version, arch)
        if not deb.exists():
            raise LabError("%s is missing from %s: run `lab.py build --force`" % (deb.name, cache))
        add_to_suite(tree, "debian", "pool/main", deb, base)
        if package in SECURITY_UPDATES + OTHER_UPDATES:
            newer = rebuild_with_version(deb, package, arch, version, lab_version(version, codename), rebuilt)
            if package in SECURITY_UPDATES:
                add_to_suite(tree, "debian-security", "pool/updates/main", newer, security)
            else:
                add_to_suite(tree, "debian", "pool/main", newer, updates)
    missing = set(SECURITY_UPDATES + OTHER_UPDATES) - set(manifest)
    if missing:
        raise LabError("the %s image lacks %s, which the mirror must update" % (codename, ", ".join(sorted(missing))))
    shutil.rmtree(rebuilt)
    for suite, indexes in zip(suites(codename), (base, updates, security)):
        write_packages(tree / suite["archive"] / "dists" / suite["suite"], indexes)
# ==== END MIRROR RECIPE ====


def section(name: str) -> str:
    text = Path(__file__).read_text()
    match = re.search(r"# ==== BEGIN %s\b.*?# ==== END %s ====" % (name, name), text, re.S)
    if not match:
        raise LabError("lab.py lost its %s markers" % name)
    return match.group(0)


def recipe_hash() -> str:
    """Short sha256 of everything that defines an image; the image tag carries it."""
    digest = hashlib.sha256(section("IMAGE RECIPE").encode())
    for path in sorted(p for p in IMAGES.rglob("*") if p.is_file()):
        # Git keeps only the executable bit, so that is all of the mode that counts.
        digest.update(b"\0%s\0%d\0" % (str(path.relative_to(IMAGES)).encode(), os.access(path, os.X_OK)))
        digest.update(path.read_bytes())
    digest.update(ARCHIVE_KEYRING.read_bytes())
    return digest.hexdigest()[:12]


def mirror_hash(tag: str) -> str:
    return hashlib.sha256((tag + section("MIRROR RECIPE")).encode()).hexdigest()[:12]


def gpg(*args, timeout: float = 60):
    return run(["gpg", "--batch", "--quiet", "--homedir", GNUPG_HOME, "--pinentry-mode", "loopback",
                "--passphrase", "", *args], timeout=timeout)


def stop_gpg_agent() -> None:
    # gpg starts an agent for the key; end it (ours only: same home directory) so no process lingers.
    run(["gpgconf", "--homedir", GNUPG_HOME, "--kill", "gpg-agent"], check=False, timeout=30)


def ensure_archive_key() -> None:
    """The lab mirror's signing key; the images trust its public half through signed-by."""
    if ARCHIVE_KEYRING.exists():
        return
    require("gpg", "gpgconf")
    GNUPG_HOME.mkdir(parents=True, exist_ok=True)
    os.chmod(GNUPG_HOME, 0o700)
    log("creating the lab mirror's archive signing key in %s" % GNUPG_HOME)
    try:
        gpg("--quick-generate-key", "iryo-lab internal mirror <mirror@%s>" % DOMAIN, "ed25519", "sign", "never")
        # Binary keyring for signed-by; run() decodes text, so this one call reads bytes.
        exported = subprocess.run(["gpg", "--batch", "--homedir", str(GNUPG_HOME), "--export"],
                                  capture_output=True, timeout=30, env=ENV)
    finally:
        stop_gpg_agent()
    if exported.returncode != 0 or not exported.stdout:
        raise LabError("gpg exported no public key from %s:\n%s" % (GNUPG_HOME, exported.stderr.decode()))
    ARCHIVE_KEYRING.write_bytes(exported.stdout)


def image_tags() -> dict[str, str]:
    digest = recipe_hash()
    return {codename: "%s:%s-%s" % (IMAGE_NAME, codename, digest) for codename in CODENAMES}


def image_exists(tag: str) -> bool:
    return podman("image", "exists", tag, check=False).returncode == 0


def build_image(codename: str, tag: str) -> float:
    """mmdebstrap a chroot tarball, import it as the image; returns the seconds it took."""
    started = time.monotonic()
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    (APT_CACHE / codename).mkdir(parents=True, exist_ok=True)
    tarball = BUILD_DIR / ("%s.tar" % codename)
    log_file = BUILD_DIR / ("%s.log" % codename)
    command = mmdebstrap_command(codename, tarball)
    try:
        with open(log_file, "w") as handle:
            handle.write("$ %s\n" % shlex.join(command))
            handle.flush()
            try:
                result = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, env=ENV,
                                        timeout=MMDEBSTRAP_TIMEOUT)
            except subprocess.TimeoutExpired:
                raise LabError("mmdebstrap %s timed out after %ss (log: %s)"
                               % (codename, MMDEBSTRAP_TIMEOUT, log_file)) from None
        if result.returncode != 0:
            # The log's tail for the person reading the terminal; the error itself stays one line.
            print(tail(log_file.read_text()), file=sys.stderr, flush=True)
            raise LabError("mmdebstrap %s failed (exit %d); log: %s" % (codename, result.returncode, log_file))
        changes = [arg for change in IMPORT_CHANGES for arg in ("--change", change)]
        podman("import", *changes, "--change", "LABEL iryo-lab.codename=%s" % codename,
               "--message", "iryo-lab %s image" % codename, str(tarball), tag, timeout=IMPORT_TIMEOUT)
    finally:
        tarball.unlink(missing_ok=True)
    return time.monotonic() - started


def build_images(tags: dict[str, str], force: bool) -> None:
    todo = {}
    for codename, tag in tags.items():
        if image_exists(tag) and not force:
            log("image %s: cached" % tag)
        else:
            todo[codename] = tag
    if not todo:
        return
    require("mmdebstrap")
    log("building %s with mmdebstrap%s; a first build downloads ~170 MB from deb.debian.org"
        % (" and ".join(todo), " in parallel" if len(todo) > 1 else ""))
    # The two builds are CPU-bound dpkg runs; on 2 cores running them side by side halves the wall time.
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(todo)) as pool:
        futures = {codename: pool.submit(build_image, codename, tag) for codename, tag in todo.items()}
    # Every image is required: a lab without trixie would quietly test OpenSSH 9.2 only.
    failed = []
    for codename, future in futures.items():
        try:
            seconds = future.result()
        except LabError as error:
            failed.append("%s: %s" % (codename, error))
            continue
        log("image %s: built in %.0f s" % (todo[codename], seconds))
    if failed:
        raise LabError("the lab needs every image (%s) and could not build %s"
                       % (", ".join(CODENAMES), "; ".join(failed)))


def image_manifest(tag: str) -> dict[str, tuple[str, str]]:
    """Installed packages of an image: package -> (version, architecture)."""
    output = podman("run", "--rm", "--network", "none", "--systemd=false", tag, "dpkg-query", "-W",
                    "-f", "${Package}\\t${Version}\\t${Architecture}\\n", timeout=120).stdout
    manifest = {}
    for line in output.splitlines():
        package, version, arch = line.split("\t")
        manifest[package] = (version, arch)
    return manifest


def repo_dir(codename: str, tag: str) -> Path:
    return REPO_CACHE / ("%s-%s" % (codename, mirror_hash(tag)))


def ensure_repo(codename: str, tag: str) -> Path:
    """The mirror tree for an image, built once from the apt cache and kept under lab/.cache/repo."""
    target = repo_dir(codename, tag)
    if (target / ".complete").exists():
        return target
    require("dpkg-deb")
    started = time.monotonic()
    REPO_CACHE.mkdir(parents=True, exist_ok=True)
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(target, ignore_errors=True)
    partial = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=REPO_CACHE))
    try:
        build_repo(codename, image_manifest(tag), partial)
        (partial / ".complete").write_text(tag + "\n")
        partial.rename(target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    log("mirror packages for %s: prepared in %.0f s" % (codename, time.monotonic() - started))
    return target


def prune_old_builds(tags: dict[str, str]) -> None:
    """Drop images and mirror trees of older recipes; an image still used by a container stays."""
    listed = podman("images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "reference=" + IMAGE_NAME,
                    check=False).stdout.split()
    for tag in listed:
        if tag not in tags.values():
            podman("rmi", tag, check=False)
    keep = {repo_dir(codename, tag).name for codename, tag in tags.items()}
    for path in REPO_CACHE.glob("*") if REPO_CACHE.exists() else ():
        if path.is_dir() and path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)


def ensure_images(force: bool = False) -> dict[str, str]:
    """Images and mirror trees for every codename; {codename: tag}."""
    require_root()
    check_podman()
    ensure_archive_key()
    tags = image_tags()
    build_images(tags, force)
    missing = [tag for tag in tags.values() if not image_exists(tag)]
    if missing:
        raise LabError("missing after the build: %s" % ", ".join(missing))
    for codename, tag in tags.items():
        ensure_repo(codename, tag)
    prune_old_builds(tags)
    return tags


# ---- the internal mirror's tree (lab/.state/mirror) -------------------------------------------

def release_text(codename: str, suite: dict, dist: Path) -> str:
    now = time.time()
    fmt = "%a, %d %b %Y %H:%M:%S UTC"
    lines = [
        "Origin: Debian",
        "Label: " + suite["label"],
        "Suite: " + suite["suite"],
        "Version: " + DEBIAN_RELEASE[codename],
        "Codename: " + suite["suite"],
        "Date: " + time.strftime(fmt, time.gmtime(now)),
        # Far ahead: a lab left up for weeks must not turn its own mirror into an apt error.
        "Valid-Until: " + time.strftime(fmt, time.gmtime(now + 5 * 365 * 86400)),
        "Acquire-By-Hash: no",
        "No-Support-for-Architecture-all: Packages",
        "Architectures: amd64 all",
        "Components: main",
        "Description: " + suite["description"],
    ]
    files = sorted(p for p in dist.rglob("*") if p.is_file())
    for field, algorithm in (("MD5Sum", "md5"), ("SHA256", "sha256")):
        lines.append(field + ":")
        for path in files:
            data = path.read_bytes()
            lines.append(" %s %8d %s" % (hashlib.new(algorithm, data).hexdigest(), len(data),
                                         path.relative_to(dist)))
    return "\n".join(lines) + "\n"


def sign_release(dist: Path) -> None:
    release = dist / "Release"
    gpg("--yes", "--digest-algo", "SHA512", "--clearsign", "--output", dist / "InRelease", release)
    gpg("--yes", "--digest-algo", "SHA512", "--armor", "--detach-sign", "--output", dist / "Release.gpg", release)


def clear_directory(path: Path) -> None:
    # The mirror container bind-mounts this directory: empty it, never replace it.
    for child in path.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def assemble_mirror(images: dict[str, str]) -> None:
    """lab/.state/mirror: the cached trees, freshly dated and signed Release files, ClamAV folder."""
    stamp_file = MIRROR / ".iryo-lab-stamp"
    stamp = json.dumps({codename: repo_dir(codename, tag).name for codename, tag in sorted(images.items())})
    MIRROR.mkdir(parents=True, exist_ok=True)
    if stamp_file.exists() and stamp_file.read_text() == stamp:
        return
    clear_directory(MIRROR)
    try:
        for codename, tag in images.items():
            shutil.copytree(repo_dir(codename, tag), MIRROR, copy_function=link_or_copy, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns(".complete"))
            for suite in suites(codename):
                dist = MIRROR / suite["archive"] / "dists" / suite["suite"]
                (dist / "Release").write_text(release_text(codename, suite, dist))
                sign_release(dist)
    finally:
        stop_gpg_agent()
    # Custom ClamAV signature databases the hospital distributes internally (fresh copies).
    clamav = MIRROR / "clamav"
    clamav.mkdir()
    shutil.copyfile(IMAGES / "rootfs" / "var" / "lib" / "clamav" / "hospital-local.hdb", clamav / "hospital-local.hdb")
    for path in MIRROR.rglob("*"):
        # nginx in the mirror container reads as www-data.
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    os.chmod(MIRROR, 0o755)  # noqa: S103 - served read-only to the lab; holds no secrets
    stamp_file.write_text(stamp)
    log("mirror tree: %s" % MIRROR)


# ---- a deliberately broken update (the nightly's rollout test) ---------------------------------
# `lab.py broken-update publish` adds to every <codename>-security suite of the running mirror a newer `less`
# (`+debNNu99lab2`) whose postinst does what a faulty vendor update does: it leaves the host's web server a
# configuration it cannot load (an impossible TLS protocol) and restarts it, so the TLS server is down after the
# upgrade. tests/integration/test_nightly_rollout_lab.py publishes it, lets the nightly install it on its first
# host and expects the night to stop there. `withdraw` puts the mirror back. Both refresh the hosts' apt lists (as
# the hospital's daily apt timer would). Not part of the MIRROR RECIPE: the cached trees never contain it; it
# lives only in lab/.state/mirror, and any later `up` reassembles the mirror without it (the stamp is removed).

BROKEN_PACKAGE = SECURITY_UPDATES[0]  # less: installed on every host, its security update pending on every host
BROKEN_MARK = MIRROR / ".iryo-lab-broken-update"
BROKEN_POSTINST = """# iryo-lab: a deliberately broken update (lab.py broken-update, docs/lab.md). Like a faulty
# update of a package the web server depends on, it leaves the server a configuration it cannot load and
# restarts it.
if [ "$1" = configure ]; then
  if [ -d /etc/nginx/conf.d ]; then
    echo 'ssl_protocols TLSv9;  # iryo-lab broken update' > /etc/nginx/conf.d/zz-iryo-lab-broken-update.conf
  fi
  if [ -d /etc/apache2/conf-enabled ]; then
    echo 'SSLProtocol TLSv9' > /etc/apache2/conf-enabled/zz-iryo-lab-broken-update.conf
  fi
  for unit in nginx.service apache2.service; do
    systemctl try-restart "$unit" || true
  done
fi
"""


def read_stanzas(path: Path) -> list[str]:
    text = path.read_text() if path.exists() else ""
    return [s.strip("\n") + "\n" for s in text.split("\n\n") if s.strip()]


def stanza_field(stanza: str, name: str) -> str | None:
    match = re.search(r"(?m)^%s: ?(.*)$" % re.escape(name), stanza)
    return match.group(1).strip() if match else None


def rebuild_broken(deb: Path, version: str, out_dir: Path) -> Path:
    """The package of `deb` under `version`, with BROKEN_POSTINST run first in its postinst."""
    out = out_dir / deb_filename(BROKEN_PACKAGE, version, "amd64")
    with tempfile.TemporaryDirectory(dir=BUILD_DIR) as tmp:
        tree = Path(tmp) / "pkg"
        run(["dpkg-deb", "--raw-extract", deb, tree], timeout=120)
        control = tree / "DEBIAN" / "control"
        control.write_text(re.sub(r"(?m)^Version: .*$", "Version: " + version, control.read_text()))
        postinst = tree / "DEBIAN" / "postinst"
        original = postinst.read_text() if postinst.exists() else "#!/bin/sh\nset -e\n"
        shebang, _, rest = original.partition("\n")
        postinst.write_text(shebang + "\n" + BROKEN_POSTINST + rest)
        postinst.chmod(0o755)
        run(["dpkg-deb", "-Zxz", "--build", tree, out], timeout=300)
    return out


def rewrite_packages(dist: Path, stanzas: list[str]) -> None:
    """New Packages files for a suite. The mirror's are hard links into lab/.cache/repo: unlink, never write
    through them."""
    for folder in ("binary-amd64", "binary-all"):
        for name in ("Packages", "Packages.gz"):
            (dist / "main" / folder / name).unlink(missing_ok=True)
    indexes: dict = {}
    for stanza in stanzas:
        indexes.setdefault(stanza_field(stanza, "Architecture"), []).append(stanza)
    write_packages(dist, indexes)


def publish_broken_update() -> list[str]:
    """Add the broken `less` to every <codename>-security suite of the running mirror; [published versions]."""
    if BROKEN_MARK.exists():
        return json.loads(BROKEN_MARK.read_text())["versions"]
    published = []
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    try:
        for codename in CODENAMES:
            suite = next(s for s in suites(codename) if s["label"] == "Debian-Security")
            dist = MIRROR / suite["archive"] / "dists" / suite["suite"]
            packages = dist / "main" / "binary-amd64" / "Packages"
            if not packages.exists():
                continue
            stanzas = read_stanzas(packages)
            current = [s for s in stanzas if stanza_field(s, "Package") == BROKEN_PACKAGE]
            if not current:
                raise LabError("%s has no %s to break: is the lab's mirror up to date?" % (suite["suite"],
                                                                                           BROKEN_PACKAGE))
            version = stanza_field(current[0], "Version")
            broken = re.sub(r"lab\d+$", "", version) + "lab2"
            if run(["dpkg", "--compare-versions", broken, "gt", version], check=False).returncode != 0:
                raise LabError("%s does not sort after %s" % (broken, version))
            source = MIRROR / suite["archive"] / stanza_field(current[0], "Filename")
            with tempfile.TemporaryDirectory(dir=BUILD_DIR) as tmp:
                deb = rebuild_broken(source, broken, Path(tmp))
                indexes: dict = {}
                add_to_suite(MIRROR, suite["archive"], "pool/updates/main", deb, indexes)
            rewrite_packages(dist, stanzas + [s for group in indexes.values() for s in group])
            (dist / "Release").unlink(missing_ok=True)
            (dist / "Release").write_text(release_text(codename, suite, dist))
            sign_release(dist)
            published.append("%s %s (%s)" % (BROKEN_PACKAGE, broken, suite["suite"]))
    finally:
        stop_gpg_agent()
        # Whatever happened, the mirror no longer equals the cached trees: the next `up` reassembles it.
        (MIRROR / ".iryo-lab-stamp").unlink(missing_ok=True)
    for path in MIRROR.rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    BROKEN_MARK.write_text(json.dumps({"versions": published}))
    return published


def refresh_apt_lists() -> list[str]:
    """`apt-get update` on every running audited host (the hospital's daily apt timer); their names."""
    refreshed = []
    for container in lab_containers():
        labels = container.get("Labels") or {}
        if labels.get("iryo-lab.role") in (None, "mirror") or container.get("State") != "running":
            continue
        result = podman("exec", container["Names"][0], "apt-get", "update", "-q", "--error-on=any",
                        timeout=APT_TIMEOUT, check=False)
        if result.returncode != 0:
            raise LabError("%s: apt-get update failed:\n%s" % (labels.get("iryo-lab.host"),
                                                               tail(result.stdout + result.stderr)))
        refreshed.append(labels.get("iryo-lab.host"))
    return sorted(refreshed)


# ---- controller-side secrets: SSH key and PKI --------------------------------------------------

def ensure_ssh_key() -> None:
    STATE.mkdir(parents=True, exist_ok=True)
    if not SSH_KEY.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "iryo-lab", "-f", SSH_KEY])
    os.chmod(SSH_KEY, 0o600)


def openssl(*args) -> None:
    run(["openssl", *args], timeout=60)


def new_key(path: Path) -> None:
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path)
    os.chmod(path, 0o600)


def ensure_ca(name: str, common_name: str) -> tuple[Path, Path]:
    cert, key = PKI / (name + ".pem"), PKI / (name + ".key")
    if not (cert.exists() and key.exists()):
        new_key(key)
        openssl("req", "-x509", "-new", "-key", key, "-out", cert, "-days", "3650", "-sha256",
                "-subj", "/C=JP/O=iryo-lab hospital/CN=" + common_name,
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    os.chmod(key, 0o600)
    return cert, key


def ensure_leaf(name: str, ca: tuple[Path, Path], extensions: str, common_name: str) -> None:
    """A certificate signed by the lab CA; re-issued when the CA changed underneath it."""
    cert, key = PKI / (name + ".pem"), PKI / (name + ".key")
    if cert.exists() and key.exists():
        if run(["openssl", "verify", "-CAfile", ca[0], cert], check=False).returncode == 0:
            return
    new_key(key)
    with tempfile.TemporaryDirectory() as tmp:
        csr, ext = Path(tmp) / "req.csr", Path(tmp) / "ext.cnf"
        ext.write_text(extensions)
        openssl("req", "-new", "-key", key, "-out", csr, "-subj", "/C=JP/O=iryo-lab hospital/CN=" + common_name)
        openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
                "-CAserial", PKI / "serial", "-out", cert, "-days", "825", "-sha256", "-extfile", ext)


def ensure_pki() -> None:
    """Lab private CA + server leaves (portal, ehr) and a client CA + client certificate for tests."""
    PKI.mkdir(parents=True, exist_ok=True)
    os.chmod(PKI, 0o700)
    ca = ensure_ca("ca", "iryo-lab Private CA")
    client_ca = ensure_ca("client-ca", "iryo-lab Client CA")
    for host in TLS_DIRS:
        fqdn = "%s.%s" % (host, DOMAIN)
        ensure_leaf(fqdn, ca, "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:%s,DNS:%s\n" % (fqdn, host), fqdn)
    ensure_leaf("client", client_ca, "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=clientAuth\n", "iryo-lab staff client")


# ---- hosts -------------------------------------------------------------------------------------

@dataclass
class Host:
    name: str
    role: str
    codename: str
    image: str
    group: str | None  # inventory group under `hospital`; None: not audited (the mirror)
    ssh_port: int | None = None
    tls_port: int | None = None
    connection: str = "ssh"

    @property
    def container(self) -> str:
        return CONTAINER_PREFIX + self.name

    @property
    def server_name(self) -> str:
        return "%s.%s" % (self.name, DOMAIN)

    @property
    def published(self) -> list[tuple[int, int]]:
        """(container port, 127.0.0.1 port) pairs."""
        ports = [(22, self.ssh_port)] if self.ssh_port else []
        return ports + ([(443, self.tls_port)] if self.tls_port else [])

    def spec(self) -> str:
        """Everything baked into the container at creation; a change means re-creating it."""
        # The checkout's path too: a lab started from another clone (CI) must not keep this one's mounts.
        parts = [str(LAB), self.name, self.role, self.image, repr(self.published), repr(CREATE_OPTIONS),
                 SSH_KEY.with_suffix(".pub").read_text()]
        if self.role in TLS_DIRS:
            parts.append((PKI / (self.server_name + ".pem")).read_text())
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def env_port(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    if not value:
        return default
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise LabError("%s must be a port number, not %r" % (name, value))
    return int(value)


def lab_hosts(images: dict[str, str], generic: int) -> list[Host]:
    ssh = env_port("IRYO_LAB_SSH_PORT_BASE", 2200)
    bookworm = images["bookworm"]
    hosts = [
        Host("mirror", "mirror", "bookworm", bookworm, None),
        Host("portal", "portal", "bookworm", bookworm, "patient_facing", ssh + 1,
             env_port("IRYO_LAB_PORTAL_TLS_PORT", 8443)),
        # ehr used Ansible's paramiko connection until ansible-core 2.19 deprecated it (removal in 2.21): the
        # runs must be free of deprecation warnings, so every lab host uses ssh.
        Host("ehr", "ehr", "bookworm", bookworm, "internal", ssh + 2, env_port("IRYO_LAB_EHR_TLS_PORT", 9443)),
        Host("files", "files", "trixie", images["trixie"], "internal", ssh + 3),
        Host("gateway", "gateway", "bookworm", bookworm, "remote_access_gateway", ssh + 4),
    ]
    hosts += [Host("gen-%02d" % i, "generic", "bookworm", bookworm, "generic", ssh + 10 + i)
              for i in range(1, generic + 1)]
    return hosts


def lab_containers() -> list[dict]:
    output = podman("ps", "-a", "--filter", "label=" + LABEL, "--format", "json").stdout
    return json.loads(output or "[]")


def container_labels(name: str) -> dict | None:
    result = podman("container", "inspect", "--format", "{{json .Config.Labels}}", name, check=False)
    if result.returncode != 0:
        return None
    return json.loads(result.stdout or "{}") or {}


def container_status(name: str) -> str:
    result = podman("container", "inspect", "--format", "{{.State.Status}}", name, check=False)
    return result.stdout.strip()


def ensure_network() -> None:
    if podman("network", "exists", NETWORK, check=False).returncode != 0:
        podman("network", "create", "--label", LABEL, NETWORK)


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def stage_files(host: Host, stage: Path) -> list[tuple[Path, str]]:
    """Files copied into a new container before it boots: (controller file, container path)."""
    keys = stage / "authorized_keys"
    shutil.copyfile(SSH_KEY.with_suffix(".pub"), keys)
    os.chmod(keys, 0o600)
    # root keeps a key login (the seeded weakness D.1 hardening removes); Ansible uses iryoadmin + sudo.
    files = [(keys, "/root/.ssh/authorized_keys"), (keys, "/home/iryoadmin/.ssh/authorized_keys")]
    if host.role in TLS_DIRS:
        chain = stage / (host.server_name + ".crt")
        chain.write_text((PKI / (host.server_name + ".pem")).read_text() + (PKI / "ca.pem").read_text())
        key = stage / (host.server_name + ".key")
        shutil.copyfile(PKI / (host.server_name + ".key"), key)
        # Seeded weakness 3: world-readable server key (the controller's copy stays 0600).
        os.chmod(key, 0o644)
        os.chmod(chain, 0o644)
        folder = TLS_DIRS[host.role]
        files += [(chain, "%s/%s" % (folder, chain.name)), (key, "%s/%s" % (folder, key.name))]
    return files


# podman mounts /proc/sys read-only; unmasking it lets the C.11 role turn IP forwarding off in
# the container's own network namespace (net.* sysctls are per namespace; others stay refused
# without CAP_SYS_ADMIN).
# --restart=always: a host that reboots (C.12 maintenance-window reboots; systemd exits when it
# "reboots" in a container) comes back as the same container, as a real server would.
CREATE_OPTIONS = ["--security-opt", "unmask=/proc/sys", "--restart=always"]


def create_container(host: Host) -> None:
    for inner, outer in host.published:
        if not port_free(outer):
            raise LabError("127.0.0.1:%d (for %s port %d) is in use; free it or set IRYO_LAB_SSH_PORT_BASE / "
                           "IRYO_LAB_PORTAL_TLS_PORT / IRYO_LAB_EHR_TLS_PORT" % (outer, host.name, inner))
    args = ["create", "--name", host.container, "--hostname", host.name,
            "--label", LABEL, "--label", "iryo-lab.host=" + host.name, "--label", "iryo-lab.role=" + host.role,
            "--label", "iryo-lab.image=" + host.image, "--label", "iryo-lab.spec=" + host.spec(),
            "--network", NETWORK, "--systemd=always",
            # Firewall checks run nft, which needs CAP_NET_ADMIN (in the container's own netns only).
            "--cap-add", "NET_ADMIN"] + CREATE_OPTIONS
    if host.role == "mirror":
        args += ["--network-alias", "mirror", "--volume", "%s:/srv/mirror:ro" % MIRROR]
    for inner, outer in host.published:
        args += ["--publish", "127.0.0.1:%d:%d" % (outer, inner)]
    podman(*args, host.image)
    with tempfile.TemporaryDirectory() as tmp:
        for source, target in stage_files(host, Path(tmp)):
            podman("cp", source, "%s:%s" % (host.container, target))
    podman("start", host.container, timeout=120)


def reconcile(host: Host) -> str:
    """Create, re-create or start one container so it matches its spec; returns what was done."""
    labels = container_labels(host.container)
    action = "created"
    # "created" = never started: an `up` was interrupted before the files were copied in.
    if labels is not None and (labels.get("iryo-lab.spec") != host.spec()
                               or container_status(host.container) == "created"):
        podman("rm", "--force", "--time", "2", host.container, timeout=120)
        labels, action = None, "re-created"
    if labels is None:
        create_container(host)
        return action
    if container_status(host.container) != "running":
        podman("start", host.container, timeout=120)
        return "started"
    return "running"


def exec_in(host: Host, *command, timeout: float = 60, check: bool = True):
    return podman("exec", host.container, *command, timeout=timeout, check=check)


def wait_for_systemd(host: Host) -> None:
    deadline = time.monotonic() + BOOT_TIMEOUT
    state = ""
    while time.monotonic() < deadline:
        remaining = max(1, deadline - time.monotonic())
        result = exec_in(host, "systemctl", "is-system-running", "--wait", timeout=remaining, check=False)
        state = result.stdout.strip()
        if state == "running":
            return
        if state == "degraded":
            failed = exec_in(host, "systemctl", "--failed", "--plain", "--no-legend", check=False).stdout
            warn("%s booted degraded; failed units:\n%s" % (host.name, failed.strip()))
            return
        time.sleep(0.5)
    raise LabError("%s: systemd did not finish booting in %ss (last state: %r); see `podman logs %s`"
                   % (host.name, BOOT_TIMEOUT, state, host.container))


def wait_for_ssh(host: Host) -> None:
    deadline = time.monotonic() + SSH_TIMEOUT
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", host.ssh_port), timeout=3) as conn:
                conn.settimeout(3)
                if conn.recv(64).startswith(b"SSH-"):
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise LabError("%s: no SSH banner on 127.0.0.1:%d within %ss" % (host.name, host.ssh_port, SSH_TIMEOUT))


def provision(host: Host) -> None:
    """Boot wait, role, and for audited hosts the daily `apt-get update` against the mirror."""
    timings = []
    started = time.monotonic()

    def step(name: str) -> None:
        nonlocal started
        timings.append("%s %.1f s" % (name, time.monotonic() - started))
        started = time.monotonic()

    wait_for_systemd(host)
    step("boot")
    exec_in(host, "/usr/local/sbin/iryo-lab-role", host.role, timeout=300)
    step("role")
    seed_checklist(host)
    step("checklist seeds")
    if host.ssh_port:
        wait_for_ssh(host)
        step("ssh")
    if host.group:
        result = exec_in(host, "apt-get", "update", "-q", "--error-on=any", timeout=APT_TIMEOUT, check=False)
        if result.returncode != 0:
            raise LabError("%s: apt-get update against the lab mirror failed:\n%s"
                           % (host.name, tail(result.stdout + result.stderr)))
        step("apt-get update")
    log("%s: ready (%s)" % (host.name, ", ".join(timings)))


# ---- checklist seeding (issue 14): accounts, a service, backups ----------------------------------

# The inspection checklist's host items (docs/checklist-host-checks.md), seeded at `up` rather than in the image
# so that every date is relative to the day the lab starts and the images need no rebuild. Each host runs its
# part once (marker file); `lab.py reset HOST` re-creates the host and seeds it again.
LEAVER_KEY = STATE / "leaver_ed25519"  # sato's key: tests show the lock stops key logins too
CHECKLIST_MARKER = "/etc/iryo-lab/checklist-seeded"
CHECKLIST_SEEDS = {
    # A debug file server somebody started on the patient portal and never stopped: a unit, enabled, listening
    # on every address (cl.services.unneeded).
    "portal": r"""
cat >/etc/systemd/system/portal-debug-http.service <<'UNIT'
[Unit]
Description=Portal debug file server (left running after the go-live tests)
After=network.target

[Service]
User=www-data
ExecStart=/usr/bin/python3 -m http.server 8080 --bind 0.0.0.0 --directory /var/www/portal
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now --quiet portal-debug-http.service
""",
    # The EHR's nightly database dumps stopped ten days ago (cl.backups.recent fails): the newest dump is 9 days
    # old whatever day the lab starts.
    "ehr": r"""
install -d -m 0750 /var/backups/ehr
for age in 11 10 9; do
    dump=/var/backups/ehr/ehr-db-$(date -d "$age days ago" +%Y%m%d).sql.gz
    printf -- '-- EHR database dump (lab)
CREATE TABLE patients (id integer, name text);
' | gzip -n >"$dump"
    touch -d "$age days ago" "$dump"
done
""",
    # files: three staff accounts and a working backup job.
    # - tanaka: a password and a shell, declared nowhere (cl.accounts.unexpected);
    # - sato: a leaver the inventory marks for removal, still with a password and a key (cl.accounts.removal_locked);
    # - suzuki: declared, last logged in 200 days before `up`, password set 250 days before (cl.accounts.unused);
    # - files-backup.service + .timer: a nightly tarball of /srv/files, run once now, so the backup is fresh.
    "files": r"""
leaver_key=$1
for account in "tanaka:田中 一郎 (経理)" "sato:佐藤 花子 (2026 退職)" "suzuki:鈴木 次郎 (放射線科)"; do
    name=${account%%:*}
    useradd --create-home --shell /bin/bash --comment "${account#*:}" "$name"
    # a random password nobody knows: what counts is that a usable hash is there
    printf '%s:%s
' "$name" "$(head -c 18 /dev/urandom | base64)" | chpasswd
done
install -d -m 0700 -o sato -g sato /home/sato/.ssh
printf '%s
' "$leaver_key" >/home/sato/.ssh/authorized_keys
chown sato:sato /home/sato/.ssh/authorized_keys
chmod 0600 /home/sato/.ssh/authorized_keys
chage -d "$(date -d '250 days ago' +%F)" suzuki
# suzuki's last login, as sshd writes it to lastlog: one 292-byte record per UID (x86_64 glibc layout)
python3 - <<'PY'
import pwd, struct, time
uid = pwd.getpwnam("suzuki").pw_uid
with open("/var/log/lastlog", "r+b") as handle:
    handle.seek(uid * 292)
    handle.write(struct.pack("=i32s256s", int(time.time()) - 200 * 86400, b"pts/0", b"192.168.10.23"))
PY
install -d -m 0755 /srv/files/share
printf 'Monthly rota (lab)
' >/srv/files/share/rota.txt
install -d -m 0750 /var/backups/files
cat >/etc/systemd/system/files-backup.service <<'UNIT'
[Unit]
Description=Nightly backup of the file shares (/srv/files) to /var/backups/files

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'tar -czf /var/backups/files/files-$(date +%%Y%%m%%dT%%H%%M%%S).tar.gz -C /srv files'
ExecStartPost=/usr/bin/find /var/backups/files -name 'files-*.tar.gz' -mtime +7 -delete
UNIT
cat >/etc/systemd/system/files-backup.timer <<'UNIT'
[Unit]
Description=Nightly backup of the file shares

[Timer]
OnCalendar=*-*-* 02:00:00
Persistent=true

[Install]
WantedBy=timers.target
UNIT
systemctl daemon-reload
systemctl enable --now --quiet files-backup.timer
systemctl start files-backup.service
""",
}


def ensure_leaver_key() -> None:
    STATE.mkdir(parents=True, exist_ok=True)
    if not LEAVER_KEY.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "sato (leaver, lab)", "-f", LEAVER_KEY])
    os.chmod(LEAVER_KEY, 0o600)


def seed_checklist(host: Host) -> None:
    script = CHECKLIST_SEEDS.get(host.role)
    if not script:
        return
    guarded = "set -eu\n[ -e %s ] && exit 0\n%s\ntouch %s\n" % (CHECKLIST_MARKER, script, CHECKLIST_MARKER)
    exec_in(host, "sh", "-c", guarded, "seed", LEAVER_KEY.with_suffix(".pub").read_text().strip(), timeout=120)


def write_known_hosts(hosts: list[Host]) -> None:
    lines = []
    for host in hosts:
        if host.ssh_port:
            result = run(["ssh-keyscan", "-T", "10", "-p", host.ssh_port, "127.0.0.1"], timeout=30)
            if not result.stdout.strip():
                raise LabError("ssh-keyscan got no host key from %s (127.0.0.1:%d)" % (host.name, host.ssh_port))
            lines.append(result.stdout.strip())
    KNOWN_HOSTS.write_text("\n".join(lines) + "\n")


def check_login(host: Host) -> None:
    # -tt: an interactive session, so sshd records the administrator's login in lastlog and wtmp as it does for a
    # person at a terminal; the checklist's unused-account check then sees iryoadmin in use (Ansible's own logins
    # have no terminal and leave no record).
    run(["ssh", "-tt", "-n", "-i", SSH_KEY, "-p", host.ssh_port, "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
         "-o", "UserKnownHostsFile=%s" % KNOWN_HOSTS, "-o", "StrictHostKeyChecking=yes",
         "-o", "ConnectTimeout=10", ADMIN_USER + "@127.0.0.1", "sudo", "-n", "true"], timeout=30)


# ---- inventory ---------------------------------------------------------------------------------

def host_vars(host: Host) -> dict:
    variables = {
        "ansible_host": "127.0.0.1",
        "ansible_port": host.ssh_port,
        "ansible_user": ADMIN_USER,
        "ansible_become": True,
        "ansible_connection": host.connection,
        "ansible_ssh_private_key_file": str(SSH_KEY),
        "ansible_ssh_common_args": "-o UserKnownHostsFile=%s -o IdentitiesOnly=yes" % KNOWN_HOSTS,
        # Lab only: host keys change with every new container, and paramiko reads ~/.ssh/known_hosts.
        "ansible_host_key_checking": False,
        "ansible_python_interpreter": "/usr/bin/python3",
        "iryo_lab_container": host.container,
        "iryo_lab_image": host.image,
        "iryo_lab_codename": host.codename,
    }
    if host.tls_port:
        variables["iryo_lab_tls_endpoint"] = {"host": "127.0.0.1", "port": host.tls_port,
                                              "server_name": host.server_name}
        variables["iryo_lab_ca_file"] = str(PKI / "ca.pem")
    return variables


def yaml_scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid double-quoted YAML scalar


def yaml_lines(mapping: dict, indent: int = 0) -> list[str]:
    lines = []
    for key, value in mapping.items():
        prefix = "  " * indent + key + ":"
        if isinstance(value, dict):
            lines += [prefix] + yaml_lines(value, indent + 1) if value else [prefix + " {}"]
        else:
            lines.append(prefix + " " + yaml_scalar(value))
    return lines


def lab_network() -> dict:
    """Subnet and gateway of the lab network. The hosts see the controller (Ansible, tests) coming
    from the gateway address, so firewall and SSH source rules are declared in terms of it."""
    subnets = json.loads(podman("network", "inspect", NETWORK, "--format", "{{json .Subnets}}").stdout or "[]")
    ipv4 = [s for s in subnets if ":" not in s.get("subnet", "")]
    if not ipv4 or not ipv4[0].get("gateway"):
        raise LabError("podman network %s has no IPv4 subnet with a gateway: %r" % (NETWORK, subnets))
    return {"subnet": ipv4[0]["subnet"], "gateway": ipv4[0]["gateway"]}


def write_inventory(hosts: list[Host]) -> None:
    groups: dict = {}
    for host in hosts:
        if host.group:
            groups.setdefault(host.group, {"hosts": {}})["hosts"][host.name] = host_vars(host)
    # The lab's current contract confirmation is dated relative to today (inventory/lab/group_vars/all.yml
    # uses it), so the register's one seeded stale entry is the only C.9 failure whatever the date.
    recent = (datetime.date.today() - datetime.timedelta(days=60)).isoformat()
    inventory = {"all": {"vars": {"iryo_lab_network": lab_network(), "iryo_lab_recent_confirmation": recent},
                         "children": {"hospital": {"children": groups}}}}
    INVENTORY.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join([INVENTORY_MARK, "# The mirror (lab infrastructure) is left out on purpose: it is not audited.",
                      "---"] + yaml_lines(inventory)) + "\n"
    partial = INVENTORY.with_suffix(".yml.partial")
    partial.write_text(text)
    partial.replace(INVENTORY)


# ---- commands ----------------------------------------------------------------------------------

def generic_count(requested: int | None) -> int:
    if requested is not None:
        return requested
    # Without --hosts, `up` keeps the generic hosts that are there, so a second `up` changes nothing.
    return sum(1 for c in lab_containers() if c.get("Labels", {}).get("iryo-lab.role") == "generic")


def remove_extra_generic(hosts: list[Host]) -> int:
    wanted = {host.container for host in hosts}
    extra = [c["Names"][0] for c in lab_containers()
             if c.get("Labels", {}).get("iryo-lab.role") == "generic" and c["Names"][0] not in wanted]
    if extra:
        podman("rm", "--force", "--time", "2", *extra, timeout=300)
        log("removed %s" % ", ".join(extra))
    return len(extra)


def cmd_build(args) -> None:
    started = time.monotonic()
    with lab_lock():
        images = ensure_images(force=args.force)
    log("images ready in %.0f s: %s" % (time.monotonic() - started, ", ".join(sorted(images.values()))))


def cmd_image_tag(args) -> None:
    """This checkout's tag for one codename (recipe hash included), whether or not it is built yet:
    tests run exactly this image, never another checkout's or an older recipe's."""
    if not ARCHIVE_KEYRING.exists():
        raise LabError("no lab archive key yet (%s), so no image tag: run `lab.py build` first" % ARCHIVE_KEYRING)
    print(image_tags()[args.codename])


def cmd_up(args) -> None:
    started = time.monotonic()
    if args.hosts is not None and not 0 <= args.hosts <= 89:
        raise LabError("--hosts must be between 0 and 89 (gen-01..gen-89)")
    require("ssh", "ssh-keygen", "ssh-keyscan", "openssl", "gpg", "gpgconf")
    with lab_lock():
        images = ensure_images()
        ensure_ssh_key()
        ensure_leaver_key()
        ensure_pki()
        assemble_mirror(images)
        ensure_network()
        hosts = lab_hosts(images, generic_count(args.hosts))
        removed = remove_extra_generic(hosts)
        actions = {host.name: reconcile(host) for host in hosts}
        # The mirror first: every other host's apt-get update needs it.
        provision(hosts[0])
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(provision, hosts[1:]))
        audited = [host for host in hosts if host.group]
        write_known_hosts(audited)
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(check_login, audited))
        write_inventory(hosts)
    print_hosts(hosts, actions)
    changed = [name for name, action in actions.items() if action != "running"]
    summary = ("%d host(s) %s" % (len(changed), "created or started") if changed
               else "all %d hosts were already running" % len(hosts))
    if removed:
        summary += "; %d generic host(s) removed" % removed
    log("lab up in %.0f s: %s; inventory: %s" % (time.monotonic() - started, summary, INVENTORY))


def print_hosts(hosts: list[Host], actions: dict) -> None:
    rows = [("HOST", "GROUP", "IMAGE", "SSH", "TLS", "CONTAINER")]
    for host in hosts:
        rows.append((host.name, host.group or "(lab infrastructure)", host.image.split(":", 1)[1],
                     "127.0.0.1:%d" % host.ssh_port if host.ssh_port else "-",
                     "127.0.0.1:%d" % host.tls_port if host.tls_port else "-", actions[host.name]))
    print_table(rows)


def print_table(rows: list[tuple]) -> None:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        log("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())


def cmd_down(args) -> None:
    check_podman()
    with lab_lock():
        names = [c["Names"][0] for c in lab_containers()]
        if names:
            podman("rm", "--force", "--time", "2", *names, timeout=300)
        for network in podman("network", "ls", "--quiet", "--filter", "label=" + LABEL).stdout.split():
            podman("network", "rm", network)
        shutil.rmtree(MIRROR, ignore_errors=True)
        KNOWN_HOSTS.unlink(missing_ok=True)
        if INVENTORY.exists():
            if INVENTORY.read_text().startswith(INVENTORY_MARK):
                INVENTORY.unlink()
            else:
                warn("%s was not written by lab.py; left in place" % INVENTORY)
    log("lab down: removed %d container(s)%s" % (len(names), ": " + ", ".join(names) if names else ""))


def cmd_reset(args) -> None:
    """Put hosts back to their seeded state (tests that harden a host call this afterwards)."""
    check_podman()
    with lab_lock():
        known = {c["Labels"].get("iryo-lab.host"): c["Names"][0] for c in lab_containers()}
        unknown = [name for name in args.names if name not in known]
        if unknown:
            raise LabError("no lab host named %s (running: %s)" % (", ".join(unknown), ", ".join(sorted(known))))
        podman("rm", "--force", "--time", "2", *[known[name] for name in args.names], timeout=300)
    args.hosts = None
    cmd_up(args)


def cmd_broken_update(args) -> None:
    """Publish or withdraw the deliberately broken security update (docs/lab.md) and refresh the hosts' lists."""
    check_podman()
    if not MIRROR.exists() or not (MIRROR / "debian-security").exists():
        raise LabError("the lab's mirror is not assembled: run `lab.py up` first")
    with lab_lock():
        if args.action == "publish":
            versions = publish_broken_update()
            log("broken update published: %s" % ", ".join(versions))
        else:
            BROKEN_MARK.unlink(missing_ok=True)
            (MIRROR / ".iryo-lab-stamp").unlink(missing_ok=True)
            assemble_mirror(image_tags())
            log("broken update withdrawn: the mirror serves the cached trees again")
        hosts = refresh_apt_lists()
    log("apt-get update on %s" % (", ".join(hosts) or "no running host"))


def cmd_status(args) -> None:
    check_podman()
    containers = sorted(lab_containers(), key=lambda c: c["Names"][0])
    if not containers:
        log("lab is down (no containers labelled %s)" % LABEL)
    else:
        rows = [("HOST", "ROLE", "STATE", "IMAGE", "PORTS")]
        for container in containers:
            labels = container.get("Labels") or {}
            ports = ", ".join("%s:%s->%s" % (p.get("host_ip") or "0.0.0.0", p["host_port"], p["container_port"])  # noqa: S104
                              for p in container.get("Ports") or [])
            rows.append((labels.get("iryo-lab.host", container["Names"][0]), labels.get("iryo-lab.role", "?"),
                         container.get("State", "?"), container.get("Image", "?").split(":", 1)[-1], ports or "-"))
        print_table(rows)
    log("inventory: %s" % (INVENTORY if INVENTORY.exists() else "(none)"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="lab.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build the lab images and mirror packages (cached)")
    build.add_argument("--force", action="store_true", help="rebuild even when the image tag exists")
    up = commands.add_parser("up", help="start the lab and write inventory/lab/hosts.yml")
    up.add_argument("--hosts", type=int, metavar="N", help="generic benchmark hosts gen-01..gen-NN (default: keep)")
    commands.add_parser("down", help="remove the lab's containers, network, mirror tree and inventory")
    commands.add_parser("status", help="show the lab's hosts, state and ports")
    image_tag = commands.add_parser("image-tag", help="print this checkout's image tag for a codename")
    image_tag.add_argument("codename", choices=CODENAMES)
    reset = commands.add_parser("reset", help="re-create hosts from their image: back to the seeded state")
    reset.add_argument("names", nargs="+", metavar="HOST")
    broken = commands.add_parser("broken-update", help="publish / withdraw a deliberately broken security update "
                                                       "on the running mirror (the nightly's rollout test)")
    broken.add_argument("action", choices=("publish", "withdraw"))
    args = parser.parse_args(argv)
    handler = {"build": cmd_build, "up": cmd_up, "down": cmd_down, "status": cmd_status,
               "reset": cmd_reset, "image-tag": cmd_image_tag, "broken-update": cmd_broken_update}[args.command]
    try:
        handler(args)
    except LabError as error:
        print("lab.py %s: error: %s" % (args.command, error), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lab.py %s: interrupted" % args.command, file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
