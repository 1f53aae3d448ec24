"""One real nginx on 127.0.0.1 serving every corpus case, one port per case.

Every server block has the same C.11-compliant TLS configuration (TLS 1.3 only, the profile's suites and
groups, a client certificate required in the handshake, HSTS), so only the certificate chain varies.
The chain file is sent exactly as built (leaf first, then what the case sends). The Debian system
service stays off: this instance runs in the foreground from its own folder.
"""

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

C11_SUITES = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"
C11_GROUPS = "X25519:prime256v1:secp384r1"


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for sock in sockets:
        sock.close()
    return ports


def server_block(case, port, client_ca):
    lines = [
        "listen 127.0.0.1:%d ssl;" % port,
        "server_name %s;" % case.server_name,
        "ssl_certificate %s;" % case.chain,
        "ssl_certificate_key %s;" % case.key,
        "ssl_protocols TLSv1.3;",
        "ssl_ecdh_curve %s;" % C11_GROUPS,
        "ssl_conf_command Ciphersuites %s;" % C11_SUITES,
        "ssl_client_certificate %s;" % client_ca,
        "ssl_verify_client on;",
        # nginx alone refuses a client without a certificate only at the HTTP layer; this makes OpenSSL
        # refuse it in the handshake (docs/tls-probe.md, client authentication)
        "ssl_conf_command VerifyMode Peer,Request,Require;",
        'add_header Strict-Transport-Security "max-age=31536000" always;',
        'location / { return 200 "%s ok\\n"; }' % case.name,
    ]
    if case.seclevel0:
        # Debian's OpenSSL runs at security level 2 and nginx then refuses to load a 1024-bit key or a
        # SHA-1-signed certificate at all. Real servers with such certificates run at a lower level; the
        # cipher string only matters for TLS <= 1.2, which this server does not speak.
        lines.insert(4, "ssl_ciphers DEFAULT:@SECLEVEL=0;")
    return "  server {  # %s\n%s\n  }" % (case.name, "\n".join("    " + x for x in lines))


class CorpusNginx:
    """with CorpusNginx(cases, client_ca, workdir) as server: server.ports[name]"""

    def __init__(self, cases, client_ca, workdir, binary=None):
        self.cases = list(cases)
        self.client_ca = client_ca
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755)
        self.ports = dict(zip((c.name for c in self.cases), free_ports(len(self.cases))))
        self.process = None
        self.binary = binary or shutil.which("nginx") or "/usr/sbin/nginx"

    def config(self):
        temp = self.dir / "tmp"
        temp.mkdir(exist_ok=True)
        return "\n".join([
            "worker_processes 1;",
            "pid %s/nginx.pid;" % self.dir,
            "error_log %s/error.log warn;" % self.dir,
            "events { worker_connections 1024; }",
            "http {",
            "  access_log off;",
            "  client_body_temp_path %s/body; proxy_temp_path %s/proxy; fastcgi_temp_path %s/fastcgi;"
            % (temp, temp, temp),
            "  uwsgi_temp_path %s/uwsgi; scgi_temp_path %s/scgi;" % (temp, temp),
            *(server_block(c, self.ports[c.name], self.client_ca) for c in self.cases),
            "}",
        ]) + "\n"

    def __enter__(self):
        conf = self.dir / "nginx.conf"
        conf.write_text(self.config())
        check = subprocess.run([self.binary, "-t", "-p", str(self.dir), "-c", str(conf)], capture_output=True,
                               text=True, timeout=60)
        if check.returncode:
            raise RuntimeError("nginx -t failed:\n%s" % check.stderr)
        log = self.dir / "stderr.log"
        with open(log, "wb") as out:
            self.process = subprocess.Popen([self.binary, "-p", str(self.dir), "-c", str(conf), "-g", "daemon off;"],
                                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait(list(self.ports.values()), [log, self.dir / "error.log"])
        except BaseException:
            self.stop()
            raise
        return self

    def _wait(self, ports, logs, timeout=20.0):
        deadline = time.monotonic() + timeout
        pending = set(ports)
        while pending and time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("nginx exited with %s:\n%s" % (self.process.returncode, _tail(logs)))
            for port in list(pending):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    pending.discard(port)
                except OSError:
                    pass
            time.sleep(0.05)
        if pending:
            raise RuntimeError("ports %s did not open within %.0f s:\n%s" % (sorted(pending), timeout, _tail(logs)))

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def _tail(paths):
    text = ""
    for path in paths:
        try:
            text += "%s:\n%s\n" % (path, Path(path).read_text(errors="replace")[-3000:])
        except OSError:
            pass
    return text or "(no log)"
