#!/usr/bin/env python3
"""Build the iryo.guard collection artefact from this checkout (docs/collection.md).

    ./iryo collection                      # -> dist/iryo-guard-<version>.tar.gz
    ./iryo collection --sanity             # and ansible-test sanity on the staged collection
    .venv/bin/python tools/build_collection.py --output-dir DIR --stage-dir DIR

The repository keeps no second copy of the code: the collection is assembled in a stage folder
(build/collection/ansible_collections/iryo/guard by default, git-ignored) from the checkout's own files, and
ansible-galaxy packs the stage. The checkout's layout maps onto the collection's as

    collections/ansible_collections/iryo/guard/{galaxy.yml, meta/, tests/sanity/}  -> the same (the templates:
                                                 galaxy.yml holds the version, the single place it is written)
    library/*.py       -> plugins/modules/        (imports of our module_utils rewritten, see below)
    module_utils/*.py  -> plugins/module_utils/   (likewise)
    plugins/{action,callback,filter,lookup}/      -> the same
    iryo_guard/        -> plugins/plugin_utils/iryo_guard/   (the controller library, imported by the plugins)
    roles/ (without molecule scenarios), playbooks/*.yml, data/  -> the same
    docs/collection.md -> README.md, docs/*.md -> docs/

The one transformation: a module or module_utils file of the checkout imports our host-side helpers as
`ansible.module_utils.<name>` (ansible.cfg's module_utils points there, and the tests register them so). An
installed collection has no such path, so the build rewrites exactly those import statements to
`ansible_collections.iryo.guard.plugins.module_utils.<name>`, found by parsing the file (ast), never by searching
text; Ansible's own `ansible.module_utils.*` imports stay. The result is parsed again: an import of ours left in the
old form, or one the rewrite cannot express (`import ansible.module_utils.iryo_x`, or ours mixed with Ansible's in
one `from ansible.module_utils import ...`), stops the build.
"""

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VIEW = REPO / "collections" / "ansible_collections" / "iryo" / "guard"  # the checkout's collection view
NAMESPACE, NAME = "iryo", "guard"
COLLECTION_MODULE_UTILS = "ansible_collections.%s.%s.plugins.module_utils" % (NAMESPACE, NAME)
LEGACY_MODULE_UTILS = "ansible.module_utils"
PLUGIN_TYPES = ("action", "callback", "filter", "lookup")
# Files of the view that are the collection's own (templates), copied as they are.
VIEW_FILES = ("galaxy.yml", "CHANGELOG.md", "meta", "tests/sanity")
SKIP_NAMES = {"__pycache__", ".pytest_cache", ".ruff_cache"}
SKIP_SUFFIXES = (".pyc", ".pyo")
# A role's molecule scenarios drive the checkout's lab (../../molecule/shared, ../../inventory/lab); not content.
ROLE_SKIP = {"molecule"}


class BuildError(Exception):
    pass


def galaxy_info(view=VIEW):
    """namespace, name and version from the view's galaxy.yml (the one place the version is written)."""
    import yaml

    data = yaml.safe_load((view / "galaxy.yml").read_text(encoding="utf-8")) or {}
    for key in ("namespace", "name", "version"):
        if not data.get(key):
            raise BuildError("%s: %s is missing" % (view / "galaxy.yml", key))
    if (data["namespace"], data["name"]) != (NAMESPACE, NAME):
        raise BuildError("galaxy.yml names %s.%s, the plugins import %s.%s"
                         % (data["namespace"], data["name"], NAMESPACE, NAME))
    return data


def our_module_utils(repo=REPO):
    return frozenset(path.stem for path in (repo / "module_utils").glob("*.py"))


def _legacy_imports(tree, ours):
    """(node, kind) for every import statement of the tree that names one of ours through ansible.module_utils:
    kind 'module' (from ansible.module_utils.<ours>[.x] import ...) or 'names' (from ansible.module_utils import
    <ours>, ...). Refuses forms the rewrite cannot express."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.startswith(LEGACY_MODULE_UTILS + "."):
                if node.module[len(LEGACY_MODULE_UTILS) + 1:].split(".")[0] in ours:
                    found.append((node, "module"))
            elif node.module == LEGACY_MODULE_UTILS:
                names = [alias.name for alias in node.names]
                mine = [name for name in names if name in ours]
                if mine and len(mine) != len(names):
                    raise BuildError("line %d mixes our module_utils (%s) with Ansible's (%s) in one import: split it"
                                     % (node.lineno, ", ".join(mine), ", ".join(sorted(set(names) - set(mine)))))
                if mine:
                    found.append((node, "names"))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if alias.name.startswith(LEGACY_MODULE_UTILS + ".") and len(parts) > 2 and parts[2] in ours:
                    raise BuildError("line %d: `import %s` cannot be rewritten; use `from ... import ...`"
                                     % (node.lineno, alias.name))
    return found


def rewrite_module_utils_imports(source, ours, filename="<source>"):
    """(new source, number of import statements rewritten): every import of our module_utils through
    ansible.module_utils rewritten to the collection's module_utils package. Everything else is left byte for byte."""
    try:
        tree = ast.parse(source, filename)
    except SyntaxError as exc:
        raise BuildError("%s: %s" % (filename, exc)) from None
    try:
        found = _legacy_imports(tree, ours)
    except BuildError as exc:
        raise BuildError("%s: %s" % (filename, exc)) from None
    lines = source.splitlines(keepends=True)
    for node, kind in sorted(found, key=lambda item: (item[0].lineno, item[0].col_offset), reverse=True):
        index = node.lineno - 1
        line = lines[index]
        if kind == "module":
            name = node.module[len(LEGACY_MODULE_UTILS) + 1:]
            pattern = r"\bfrom(\s+)ansible\.module_utils\.(%s)\b" % re.escape(name)
            replacement = r"from\1%s.\2" % COLLECTION_MODULE_UTILS
        else:
            pattern = r"\bfrom(\s+)ansible\.module_utils(\s+)import\b"
            replacement = r"from\1%s\2import" % COLLECTION_MODULE_UTILS
        # Only at the statement's own column, so a second statement on the line (`;`) is matched by its own node.
        head, tail = line[:node.col_offset], line[node.col_offset:]
        new_tail, count = re.subn(pattern, replacement, tail, count=1)
        if count != 1 or not tail.startswith("from"):
            raise BuildError("%s:%d: cannot rewrite this import in place: %s" % (filename, node.lineno, line.strip()))
        lines[index] = head + new_tail
    result = "".join(lines)
    left = _legacy_imports(ast.parse(result, filename), ours)
    if left:
        raise BuildError("%s: imports left unrewritten at lines %s" % (filename, [n.lineno for n, _ in left]))
    return result, len(found)


def _copy_tree(src, dst, skip=frozenset()):
    """Copy a folder, symlinks followed (the artefact holds plain files), caches left out."""
    def ignore(folder, names):
        return [n for n in names if n in SKIP_NAMES or n in skip or n.endswith(SKIP_SUFFIXES)]
    shutil.copytree(src, dst, symlinks=False, ignore=ignore)


def stage_collection(stage_root, repo=REPO, view=VIEW):
    """Assemble the collection in stage_root/ansible_collections/iryo/guard (replaced); returns that folder and
    {'modules': n, 'module_utils': n, 'rewritten': n} for the summary line."""
    info = galaxy_info(view)
    target = Path(stage_root) / "ansible_collections" / info["namespace"] / info["name"]
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in VIEW_FILES:
        src = view / name
        if src.is_dir():
            _copy_tree(src, target / name)
        elif src.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target / name)
    ours = our_module_utils(repo)
    counts = {"modules": 0, "module_utils": 0, "rewritten": 0}
    for src_dir, dst_dir, key in ((repo / "library", target / "plugins" / "modules", "modules"),
                                  (repo / "module_utils", target / "plugins" / "module_utils", "module_utils")):
        dst_dir.mkdir(parents=True)
        for path in sorted(src_dir.glob("*.py")):
            text, rewritten = rewrite_module_utils_imports(path.read_text(encoding="utf-8"), ours,
                                                          str(path.relative_to(repo)))
            (dst_dir / path.name).write_text(text, encoding="utf-8")
            counts[key] += 1
            counts["rewritten"] += rewritten
    for kind in PLUGIN_TYPES:
        src = repo / "plugins" / kind
        if src.is_dir():
            dst = target / "plugins" / kind
            dst.mkdir(parents=True)
            for path in sorted(src.glob("*.py")):
                shutil.copy2(path, dst / path.name)
    _copy_tree(repo / "iryo_guard", target / "plugins" / "plugin_utils" / "iryo_guard")
    _copy_tree(repo / "roles", target / "roles", skip=ROLE_SKIP)
    (target / "playbooks").mkdir()
    for path in sorted((repo / "playbooks").glob("*.yml")):
        shutil.copy2(path, target / "playbooks" / path.name)
    _copy_tree(repo / "data", target / "data")
    (target / "docs").mkdir()
    for path in sorted((repo / "docs").glob("*.md")):
        shutil.copy2(path, target / "docs" / path.name)
    shutil.copy2(repo / "docs" / "collection.md", target / "README.md")
    check_stage(target)
    return target, counts


def check_stage(target):
    """The stage holds plain files only (ansible-galaxy would pack a symlink as a link to a path that does not exist
    on the installing machine) and none of the checkout's test or lab material."""
    target = Path(target)
    links = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_symlink())
    if links:
        raise BuildError("symlinks left in the stage: %s" % ", ".join(links))
    stray = sorted(str(p.relative_to(target)) for p in target.rglob("*")
                   if p.name in ROLE_SKIP | {"lab", "bench", "reports", "output"} and p.is_dir())
    if stray:
        raise BuildError("checkout-only folders in the stage: %s" % ", ".join(stray))


def galaxy_build(collection_dir, output_dir, galaxy="ansible-galaxy"):
    """ansible-galaxy collection build; returns the artefact's path."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([galaxy, "collection", "build", str(collection_dir), "--output-path", str(output_dir),
                           "--force"], capture_output=True, text=True)
    if done.returncode != 0:
        raise BuildError("ansible-galaxy collection build failed:\n%s%s" % (done.stdout, done.stderr))
    info = galaxy_info(collection_dir)
    artefact = output_dir / ("%s-%s-%s.tar.gz" % (info["namespace"], info["name"], info["version"]))
    if not artefact.is_file():
        raise BuildError("ansible-galaxy reported success but %s is missing:\n%s" % (artefact, done.stdout))
    return artefact


# ansible-doc loads every filter plugin; ours import tlslite-ng, which ansible-test's ansible-doc venv (ansible-core's
# requirements only) lacks, and that test cannot take ignore entries. tests/unit/test_build_collection.py runs
# ansible-doc over the installed artefact with the controller's requirements instead (docs/collection.md).
SANITY_SKIP = ("ansible-doc",)


def sanity(repo=REPO, ansible_test="ansible-test", python="3.11", extra=()):
    """ansible-test sanity on a fresh stage outside the checkout: ansible-test lists a collection's files through git
    when it sits in a git work tree, and the default stage (build/) is git-ignored, so there it would test nothing."""
    with tempfile.TemporaryDirectory(prefix="iryo-collection-sanity-") as tmp:
        collection_dir, _ = stage_collection(tmp, repo)
        env = dict(os.environ)
        env.pop("ANSIBLE_CONFIG", None)  # the checkout's ansible.cfg wires library/ etc.; the collection needs none
        # The tools' own Python first: ansible-test's --python picks python3.11 from PATH for its venvs.
        env["PATH"] = os.pathsep.join([str(Path(ansible_test).parent), env.get("PATH", "")])
        # No --docker / --venv: ansible-test runs from this Python and creates its own venvs for the tests that need
        # pinned tools (pep8, pylint, validate-modules, ...), from the configured package index.
        skips = [arg for name in SANITY_SKIP for arg in ("--skip-test", name)]
        cmd = [ansible_test, "sanity", "--python", python, "--color", "no", *skips, *extra]
        done = subprocess.run(cmd, cwd=collection_dir, env=env, capture_output=True, text=True)
        sys.stderr.write(done.stdout + done.stderr)
        if "All targets skipped" in done.stdout + done.stderr:
            print("build_collection: ansible-test found no files to test", file=sys.stderr)
            return 1
        return done.returncode


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", default=str(REPO / "dist"), help="where the .tar.gz goes (default dist/)")
    parser.add_argument("--stage-dir", default=str(REPO / "build" / "collection"),
                        help="where the collection is assembled (default build/collection)")
    parser.add_argument("--sanity", action="store_true", help="then run ansible-test sanity on the staged collection")
    parser.add_argument("--sanity-args", default="", help="extra ansible-test sanity arguments (one string)")
    args = parser.parse_args(argv)
    bin_dir = Path(sys.executable).parent
    galaxy = str(bin_dir / "ansible-galaxy") if (bin_dir / "ansible-galaxy").exists() else "ansible-galaxy"
    try:
        collection_dir, counts = stage_collection(args.stage_dir)
        artefact = galaxy_build(collection_dir, args.output_dir, galaxy)
    except BuildError as exc:
        print("build_collection: %s" % exc, file=sys.stderr)
        return 1
    # The path alone on stdout (scripts take it); the summary on stderr.
    print(artefact)
    print("build_collection: %d modules, %d module_utils, %d imports rewritten; staged in %s"
          % (counts["modules"], counts["module_utils"], counts["rewritten"], collection_dir), file=sys.stderr)
    sys.stdout.flush()
    if args.sanity:
        test = str(bin_dir / "ansible-test") if (bin_dir / "ansible-test").exists() else "ansible-test"
        return sanity(REPO, test, extra=args.sanity_args.split())
    return 0


if __name__ == "__main__":
    sys.exit(main())
