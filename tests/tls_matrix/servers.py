"""Real nginx and Apache instances on loopback, one server block / virtual host per site and port.

    with ServerSet(sites, pki, workdir) as servers:   # starts one nginx and one Apache for all sites
        servers.port("nginx-c11")

Each instance runs from its own config in a temp dir (pid, logs, mutexes, temp paths there),
in the foreground, as its own child process; the Debian system services stay off. Workers
run as www-data (Apache) / nobody (nginx). Only 127.0.0.1 is used.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

APACHE_MODULES = Path("/usr/lib/apache2/modules")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
APACHE = shutil.which("apache2") or "/usr/sbin/apache2"


@dataclass
class Site:
    """One TLS endpoint. `directives` may use {ca}, {client_ca}, {dh1024}, {dh2048} and {dir}."""

    name: str
    server: str                          # nginx | apache
    directives: list = field(default_factory=list)
    leaf: str = "rsa2048"
    port: int = 0


def free_ports(count):
    sockets, ports = [], []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
        ports.append(sock.getsockname()[1])
    for sock in sockets:
        sock.close()
    return ports


def wait_for_ports(ports, process, logs, timeout=15.0):
    deadline = time.monotonic() + timeout
    pending = set(ports)
    while pending and time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("server exited with %s:\n%s" % (process.returncode, _tail(logs)))
        for port in list(pending):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                pending.discard(port)
            except OSError:
                pass
        time.sleep(0.05)
    if pending:
        raise RuntimeError("ports %s did not open within %.0f s:\n%s" % (sorted(pending), timeout, _tail(logs)))


def _tail(paths):
    text = ""
    for path in paths:
        try:
            text += "%s:\n%s\n" % (path, Path(path).read_text(errors="replace")[-3000:])
        except OSError:
            pass
    return text or "(no log)"


def _fill(directives, pki, workdir):
    values = {"ca": pki.ca, "client_ca": pki.client_ca, "dh1024": pki.dh1024, "dh2048": pki.dh2048, "dir": workdir}
    return [d.format(**values) for d in directives]


class _Instance:
    kind = ""

    def __init__(self, sites, pki, workdir):
        self.sites = sites
        self.pki = pki
        self.dir = Path(workdir) / self.kind
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755)
        self.process = None

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def _start(self, argv, env=None):
        log = self.dir / "stderr.log"
        with open(log, "wb") as out:
            self.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                                            start_new_session=True)
        wait_for_ports([s.port for s in self.sites], self.process, [log, self.dir / "error.log"])


class Nginx(_Instance):
    kind = "nginx"

    def config(self):
        servers = []
        for site in self.sites:
            cert, key = self.pki.leaf(site.leaf)
            lines = ["listen 127.0.0.1:%d ssl;" % site.port, "server_name localhost;",
                     "ssl_certificate %s;" % cert, "ssl_certificate_key %s;" % key]
            lines += _fill(site.directives, self.pki, self.dir)
            lines.append('location / { return 200 "%s ok\\n"; }' % site.name)
            servers.append("  server {  # %s\n%s\n  }" % (site.name, "\n".join("    " + x for x in lines)))
        temp = self.dir / "tmp"
        temp.mkdir(exist_ok=True)
        return "\n".join([
            "worker_processes 1;",
            "pid %s/nginx.pid;" % self.dir,
            "error_log %s/error.log warn;" % self.dir,
            "events { worker_connections 512; }",
            "http {",
            "  access_log off;",
            "  client_body_temp_path %s/body; proxy_temp_path %s/proxy; fastcgi_temp_path %s/fastcgi;"
            % (temp, temp, temp),
            "  uwsgi_temp_path %s/uwsgi; scgi_temp_path %s/scgi;" % (temp, temp),
            *servers,
            "}",
        ]) + "\n"

    def start(self):
        conf = self.dir / "nginx.conf"
        conf.write_text(self.config())
        check = subprocess.run([NGINX, "-t", "-p", str(self.dir), "-c", str(conf)], capture_output=True, text=True)
        if check.returncode:
            raise RuntimeError("nginx -t failed:\n%s\n%s" % (check.stderr, conf.read_text()))
        self._start([NGINX, "-p", str(self.dir), "-c", str(conf), "-g", "daemon off;"])


class Apache(_Instance):
    kind = "apache"
    MODULES = ("mpm_event", "authz_core", "socache_shmcb", "ssl", "headers", "dir")

    def config(self):
        htdocs = self.dir / "htdocs"
        htdocs.mkdir(exist_ok=True)
        (htdocs / "index.html").write_text("ok\n")
        lines = ["LoadModule %s_module %s/mod_%s.so" % (m, APACHE_MODULES, m) for m in self.MODULES]
        lines += [
            "ServerRoot %s" % self.dir, "ServerName localhost", "User www-data", "Group www-data",
            "PidFile %s/httpd.pid" % self.dir, "ErrorLog %s/error.log" % self.dir, "LogLevel warn",
            "DefaultRuntimeDir %s" % self.dir, "Mutex file:%s default" % self.dir,
            "SSLSessionCache shmcb:%s/ssl_scache(512000)" % self.dir, "DocumentRoot %s" % htdocs,
            "DirectoryIndex index.html", "<Directory %s>\n  Require all granted\n</Directory>" % htdocs,
        ]
        for site in self.sites:
            cert, key = self.pki.leaf(site.leaf)
            body = ["SSLEngine on", "SSLCertificateFile %s" % cert, "SSLCertificateKeyFile %s" % key]
            body += _fill(site.directives, self.pki, self.dir)
            lines += ["Listen 127.0.0.1:%d" % site.port,
                      "<VirtualHost 127.0.0.1:%d>  # %s\n%s\n</VirtualHost>"
                      % (site.port, site.name, "\n".join("  " + x for x in body))]
        return "\n".join(lines) + "\n"

    def start(self):
        conf = self.dir / "httpd.conf"
        conf.write_text(self.config())
        env = dict(os.environ, APACHE_RUN_DIR=str(self.dir), APACHE_LOCK_DIR=str(self.dir),
                   APACHE_LOG_DIR=str(self.dir))
        check = subprocess.run([APACHE, "-t", "-f", str(conf)], capture_output=True, text=True, env=env)
        if check.returncode:
            raise RuntimeError("apache2 -t failed:\n%s\n%s" % (check.stderr, conf.read_text()))
        self._start([APACHE, "-f", str(conf), "-DFOREGROUND"], env=env)


class ServerSet:
    """All sites of a matrix, served by at most one nginx and one Apache."""

    def __init__(self, sites, pki, workdir):
        self.sites = {s.name: s for s in sites}
        for site, port in zip(sites, free_ports(len(sites))):
            site.port = port
        self.pki = pki
        self.instances = []
        for cls in (Nginx, Apache):
            mine = [s for s in sites if s.server == cls.kind]
            if mine:
                self.instances.append(cls(mine, pki, workdir))

    def port(self, name):
        return self.sites[name].port

    def __enter__(self):
        try:
            for instance in self.instances:
                instance.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        for instance in self.instances:
            instance.stop()


# ---------------------------------------------------------------------------------------------
# Whole configuration trees (tests/tls_corpus/configs): a main file with its includes, laid out as
# under /etc, run as it is. The corpus needs one process per tree, since each tree has its own
# main file (nginx's http{} level, Apache's server-wide level); they start in parallel.

class TreeServer:
    """nginx or Apache run in the foreground from a configuration tree, with the commands that
    validate and reload exactly that instance (what tls_config gets as validate/reload_command).

    ``env`` carries what Debian's apache2ctl would export from envvars (APACHE_RUN_DIR, ...); it is
    put on the command line through env(1), so the commands also work when run by the module.
    """

    def __init__(self, kind, main, ports, server_root=None, env=None, log_dir=None):
        self.kind = kind
        self.main = Path(main)
        self.ports = list(ports)
        self.server_root = Path(server_root or self.main.parent)
        self.env = dict(env or {})
        self.process = None
        self.log = Path(log_dir or self.main.parent) / ("iryo-test-%s.log" % kind)

    def _base(self):
        if self.kind == "nginx":
            # -e: nginx's own log before it has read error_log (else the packaged /var/log/nginx/error.log)
            return [NGINX, "-p", str(self.server_root) + "/", "-e", str(self.log.with_suffix(".early")),
                    "-c", str(self.main)]
        env = ["env"] + ["%s=%s" % item for item in sorted(self.env.items())] if self.env else []
        return env + [APACHE, "-d", str(self.server_root), "-f", str(self.main)]

    def validate_argv(self):
        return self._base() + ["-t"]

    def reload_argv(self):
        return self._base() + (["-s", "reload"] if self.kind == "nginx" else ["-k", "graceful"])

    def validate(self):
        return subprocess.run(self.validate_argv(), capture_output=True, text=True, timeout=60)

    def spawn(self):
        """Start in the foreground (no wait); ``wait()`` then waits for the ports."""
        argv = self._base() + (["-g", "daemon off;"] if self.kind == "nginx" else ["-DFOREGROUND"])
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def wait(self, timeout=20.0):
        wait_for_ports(self.ports, self.process, [self.log], timeout)
        return self

    def exited(self, timeout=15.0):
        """(returncode, log text) of a server expected to refuse to start."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None, _tail([self.log])
        return code, self.log.read_text(errors="replace")

    def stop(self):
        if self.process and self.process.poll() is None:
            # the whole group: Apache's and nginx's children too
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(5)
