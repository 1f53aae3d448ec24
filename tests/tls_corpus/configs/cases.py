"""The configuration corpus: real-world nginx and Apache TLS setups, each a small tree laid out as
under /etc, built into a temp sandbox and served on 127.0.0.1.

    corpus = build(workdir)          # certificates, trees, ports
    for case in corpus.cases: case.server (a TreeServer), case.sites, case.main ...

What is real and what is adapted (the same for every case):
- the files' text comes from sources.py (each with its origin);
- ``relocate``: absolute /etc/, /var/ and /run/ paths point into the case's sandbox folder, which
  plays the root file system (``/etc/nginx/nginx.conf`` -> ``SANDBOX/etc/nginx/nginx.conf``);
  module paths (/usr/lib/apache2/modules) and tools stay the machine's own;
- ``bind``: every listen address is put on loopback with a free port (``listen 443 ssl`` ->
  ``listen 127.0.0.1:PORT ssl``, ``listen [::]:443 ssl`` -> ``listen [::1]:PORT ssl``, Apache
  ``Listen 443`` -> ``Listen 127.0.0.1:PORT``, ``<VirtualHost *:443>`` -> ``<VirtualHost *:PORT>``),
  so nothing listens beyond this machine and test traffic stays on loopback;
- certificates are a plain good chain (pki.py) written where the configuration expects them
  (the snakeoil paths, /etc/letsencrypt/live/NAME/, /etc/pki/tls/...).
Anything else a case changes is said in its ``steps`` (what an administrator did, e.g. "uncomment
Debian's SSL lines", "a2enmod ssl").
"""

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from tests.tls_corpus.configs import sources as src
from tests.tls_corpus.configs.pki import make_chain
from tests.tls_matrix.pki import make_pki
from tests.tls_matrix.servers import APACHE_MODULES, TreeServer, free_ports

HOSPITAL = "hospital.example"


@dataclass
class Site:
    """One TLS endpoint of a case: the name a client asks for (SNI and certificate name) and the
    port the source configuration uses (443, 8443), which ``bind`` maps to a loopback port."""

    name: str
    source_port: int = 443
    port: int = 0

    @property
    def label(self):
        return "%s:%d" % (self.name, self.source_port)


@dataclass
class Case:
    name: str
    server: str                        # nginx | apache
    main: str                          # main file, relative to the sandbox root
    sources: tuple                     # where the files come from
    covers: tuple                      # which corpus items (issue 12, item 2) the case exercises
    sites: list
    write: object                      # write(case, ctx): puts the tree into case.sandbox
    steps: tuple = ()                  # what an administrator did to the shipped files
    server_root: str = None            # Apache -d (relative to the sandbox); default: the main file's folder
    env: dict = field(default_factory=dict)
    cannot_serve_before: str = None    # why the daemon cannot run this tree before enforcement
    refuses_with: str = None           # ... and the words its log then says it with
    role_steps: tuple = ()             # what roles/c11_tls does before tls_config (see apply_role_steps)
    profile: str = "mhlw-c11"
    extra_ports: tuple = (80,)         # plain-HTTP ports the tree also listens on
    sandbox: Path = None
    ports: dict = field(default_factory=dict)
    tree: object = None                # TreeServer

    @property
    def main_path(self):
        return self.sandbox / self.main

    @property
    def etc(self):
        """Every configuration file of the case (the tree, /etc/letsencrypt, certificates) is under here."""
        return self.sandbox / "etc"


@dataclass
class Corpus:
    workdir: Path
    chain: object        # pki.Chain: root CA file for probes and clients
    client: object       # tests.tls_matrix.pki.Pki: client CA, client certificate and key, ffdhe2048
    cases: list

    def endpoints(self):
        return [(case, site) for case in self.cases for site in case.sites]


# ---------------------------------------------------------------------------------------------
# relocation

_ABSOLUTE = re.compile(r"(?<![\w./$}-])/(etc|var|run)/")


def relocate(text, sandbox):
    """/etc/, /var/, /run/ -> SANDBOX/etc/, ... (not inside other paths or after ${VAR})."""
    return _ABSOLUTE.sub(lambda m: "%s/%s/" % (sandbox, m.group(1)), text)


def bind(text, ports, kind):
    """Listen addresses -> loopback with the case's ports (``ports``: source port -> real port)."""
    def port(value):
        return ports[int(value)]
    if kind == "nginx":
        return re.sub(r"(\blisten\s+)(\[::\]:)?(\d+)\b",
                      lambda m: "%s%s:%d" % (m.group(1), "[::1]" if m.group(2) else "127.0.0.1", port(m.group(3))),
                      text)
    text = re.sub(r"(?m)^(\s*Listen\s+)(\d+)\b", lambda m: "%s127.0.0.1:%d" % (m.group(1), port(m.group(2))), text)
    return re.sub(r"(?m)^(\s*<VirtualHost\s+[^>]*)>",
                  lambda m: re.sub(r":(\d+)\b", lambda p: ":%d" % port(p.group(1)), m.group(1)) + ">", text)


def put(case, relpath, text):
    path = case.sandbox / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(bind(relocate(text, case.sandbox), case.ports, case.server))
    return path


def put_bytes(case, relpath, data, mode=0o644):
    path = case.sandbox / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)
    return path


def link(case, relpath, target):
    """A symlink as the packaging tools make them (absolute, into the sandbox, unless ``target`` is relative)."""
    path = case.sandbox / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target if not str(target).startswith("/") else relocate(str(target), case.sandbox))
    return path


def install_certificate(case, ctx, name, cert_path, key_path, form="fullchain"):
    live = ctx.chain.live(name)
    put_bytes(case, cert_path, (live / ("%s.pem" % form)).read_bytes())
    put_bytes(case, key_path, (live / "privkey.pem").read_bytes(), 0o600)


def www(case, *names):
    for name in names:
        put(case, "var/www/%s/index.html" % name, "<p>%s</p>\n" % name)


# ---------------------------------------------------------------------------------------------
# nginx on Debian

def _nginx_base(case):
    put(case, "etc/nginx/nginx.conf", src.DEBIAN_NGINX_CONF)
    put(case, "etc/nginx/mime.types", src.NGINX_MIME_TYPES)
    (case.sandbox / "etc/nginx/modules-enabled").mkdir(parents=True, exist_ok=True)
    (case.sandbox / "etc/nginx/conf.d").mkdir(parents=True, exist_ok=True)
    (case.sandbox / "var/log/nginx").mkdir(parents=True, exist_ok=True)
    (case.sandbox / "run").mkdir(parents=True, exist_ok=True)
    put(case, "etc/nginx/sites-available/default", src.DEBIAN_NGINX_DEFAULT_SITE)
    link(case, "etc/nginx/sites-enabled/default", "/etc/nginx/sites-available/default")
    www(case, "html")


def enable_debian_nginx_ssl(text):
    """What Debian's comments tell the administrator to do: uncomment the listen 443 lines and the snakeoil include."""
    for line in ("listen 443 ssl default_server;", "listen [::]:443 ssl default_server;",
                 "include snippets/snakeoil.conf;"):
        text = text.replace("\t# %s" % line, "\t%s" % line)
    return text


RIS_SITE = """\
# The radiology viewer, added by the hospital's integrator as conf.d/ris.conf.
server {
	listen 8443 ssl;
	listen [::]:8443 ssl;
	server_name ris.hospital.example;

	ssl_certificate /etc/ssl/hospital/ris.hospital.example.crt;
	ssl_certificate_key /etc/ssl/hospital/ris.hospital.example.key;

	location / {
		return 200 "ris\\n";
	}
}
"""


def write_nginx_debian(case, ctx):
    write_nginx_debian_default_only(case, ctx)
    put(case, "etc/nginx/conf.d/ris.conf", RIS_SITE)
    install_certificate(case, ctx, "ris." + HOSPITAL, "etc/ssl/hospital/ris.hospital.example.crt",
                        "etc/ssl/hospital/ris.hospital.example.key")


RECORDS_NGINX = """\
# The medical-records portal, added by the hospital's integrator next to Debian's default site.
server {
	listen 443 ssl;
	listen [::]:443 ssl;
	server_name records.hospital.example;

	ssl_certificate /etc/ssl/hospital/records.hospital.example.crt;
	ssl_certificate_key /etc/ssl/hospital/records.hospital.example.key;

	# modern configuration (ssl-config.mozilla.org, guideline 6.0), pasted into this server
	ssl_protocols TLSv1.3;
	ssl_ecdh_curve X25519:prime256v1:secp384r1;
	ssl_prefer_server_ciphers off;
	ssl_session_tickets off;
	# the integrator's own addition: 256-bit TLS 1.3 suites only
	ssl_conf_command Ciphersuites TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256;

	location / {
		return 200 "records\\n";
	}
}
"""

RECORDS_APACHE = """\
<VirtualHost *:443>
	ServerName records.hospital.example
	DocumentRoot /var/www/html

	SSLEngine on
	SSLCertificateFile      /etc/ssl/hospital/records.hospital.example.crt
	SSLCertificateKeyFile   /etc/ssl/hospital/records.hospital.example.key

	# modern configuration (ssl-config.mozilla.org, guideline 6.0), pasted into this vhost
	SSLProtocol             -all +TLSv1.3
	SSLOpenSSLConfCmd       Curves X25519:prime256v1:secp384r1
	# the integrator's own addition: 256-bit TLS 1.3 suites only
	SSLCipherSuite          TLSv1.3 TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256
	SSLHonorCipherOrder     off
	SSLSessionTickets       off
</VirtualHost>
"""


def write_nginx_sni_default(case, ctx):
    write_nginx_debian_default_only(case, ctx)
    put(case, "etc/nginx/sites-available/records", RECORDS_NGINX)
    link(case, "etc/nginx/sites-enabled/records", "/etc/nginx/sites-available/records")
    install_certificate(case, ctx, "records." + HOSPITAL, "etc/ssl/hospital/records.hospital.example.crt",
                        "etc/ssl/hospital/records.hospital.example.key")


def write_nginx_debian_default_only(case, ctx):
    _nginx_base(case)
    put(case, "etc/nginx/sites-available/default", enable_debian_nginx_ssl(src.DEBIAN_NGINX_DEFAULT_SITE))
    put(case, "etc/nginx/snippets/snakeoil.conf", src.DEBIAN_NGINX_SNAKEOIL)
    install_certificate(case, ctx, "intranet." + HOSPITAL, "etc/ssl/certs/ssl-cert-snakeoil.pem",
                        "etc/ssl/private/ssl-cert-snakeoil.key")


def write_nginx_certbot(case, ctx):
    _nginx_base(case)
    put(case, "etc/letsencrypt/options-ssl-nginx.conf", src.CERTBOT_OPTIONS_NGINX)
    put_bytes(case, "etc/letsencrypt/ssl-dhparams.pem", ctx.client.dh2048.read_bytes())
    names = [site.name for site in case.sites]
    first = sorted(n.split(".")[0] for n in names)[0]  # sites-enabled/* is read in name order
    for name in names:
        short = name.split(".")[0]
        put(case, "etc/nginx/sites-available/%s" % short,
            src.CERTBOT_NGINX_SITE.format(name=name, ipv6only=" ipv6only=on" if short == first else ""))
        link(case, "etc/nginx/sites-enabled/%s" % short, "/etc/nginx/sites-available/%s" % short)
        for form in ("cert", "chain", "fullchain", "privkey"):
            put_bytes(case, "etc/letsencrypt/live/%s/%s.pem" % (name, form),
                      (ctx.chain.live(name) / ("%s.pem" % form)).read_bytes(), 0o600 if form == "privkey" else 0o644)
        www(case, name)


def _nginx_mozilla(level):
    def write(case, ctx):
        _nginx_base(case)
        os.unlink(case.sandbox / "etc/nginx/sites-enabled/default")  # the generator's own port-80 server replaces it
        main_context = src.DEBIAN_NGINX_CONF.split("http {")[0]
        generated = (src.MOZILLA_NGINX[level]
                     .replace("/path/to/signed_cert_plus_intermediates", "/etc/ssl/hospital/fullchain.pem")
                     .replace("/path/to/private_key", "/etc/ssl/hospital/privkey.pem"))
        put(case, "etc/nginx/nginx.conf", main_context + generated)
        install_certificate(case, ctx, case.sites[0].name, "etc/ssl/hospital/fullchain.pem",
                            "etc/ssl/hospital/privkey.pem")
    return write


# ---------------------------------------------------------------------------------------------
# Apache on Debian

def _apache_base(case, modules=(), sites=("000-default",)):
    put(case, "etc/apache2/apache2.conf", src.DEBIAN_APACHE2_CONF)
    put(case, "etc/apache2/ports.conf", src.DEBIAN_APACHE_PORTS)
    for module in src.DEBIAN_APACHE_DEFAULT_MODULES + src.DEBIAN_APACHE_SSL_MODULES + ("headers", "rewrite"):
        put(case, "etc/apache2/mods-available/%s.load" % module,
            "LoadModule %s_module %s/mod_%s.so\n" % (module, APACHE_MODULES, module))
    put(case, "etc/apache2/mods-available/ssl.conf", src.DEBIAN_APACHE_MOD_SSL_CONF)
    put(case, "etc/apache2/mods-available/mime.conf", src.DEBIAN_APACHE_MIME_CONF)
    put(case, "etc/mime.types", src.MIME_TYPES)
    for module in src.DEBIAN_APACHE_DEFAULT_MODULES + tuple(modules):
        a2enmod(case, module)
    (case.sandbox / "etc/apache2/conf-enabled").mkdir(parents=True, exist_ok=True)
    put(case, "etc/apache2/sites-available/000-default.conf", src.DEBIAN_APACHE_000_DEFAULT)
    for site in sites:
        a2ensite(case, site)
    for folder in ("var/run/apache2", "var/lock/apache2", "var/log/apache2"):
        (case.sandbox / folder).mkdir(parents=True, exist_ok=True)
    www(case, "html")


def a2enmod(case, module):
    """Debian's a2enmod: relative symlinks in mods-enabled to the .load (and .conf, when there is one)."""
    for ext in ("load", "conf"):
        target = case.sandbox / ("etc/apache2/mods-available/%s.%s" % (module, ext))
        enabled = case.sandbox / ("etc/apache2/mods-enabled/%s.%s" % (module, ext))
        if target.exists() and not enabled.is_symlink():
            enabled.parent.mkdir(parents=True, exist_ok=True)
            enabled.symlink_to("../mods-available/%s.%s" % (module, ext))


def a2ensite(case, site):
    enabled = case.sandbox / ("etc/apache2/sites-enabled/%s.conf" % site)
    enabled.parent.mkdir(parents=True, exist_ok=True)
    enabled.symlink_to("../sites-available/%s.conf" % site)


def write_apache_debian(case, ctx):
    _apache_base(case, modules=src.DEBIAN_APACHE_SSL_MODULES, sites=("000-default", "default-ssl"))
    put(case, "etc/apache2/sites-available/default-ssl.conf", src.DEBIAN_APACHE_DEFAULT_SSL)
    install_certificate(case, ctx, case.sites[0].name, "etc/ssl/certs/ssl-cert-snakeoil.pem",
                        "etc/ssl/private/ssl-cert-snakeoil.key")


def write_apache_sni_default(case, ctx):
    write_apache_debian(case, ctx)
    put(case, "etc/apache2/sites-available/records-ssl.conf", RECORDS_APACHE)
    a2ensite(case, "records-ssl")
    install_certificate(case, ctx, "records." + HOSPITAL, "etc/ssl/hospital/records.hospital.example.crt",
                        "etc/ssl/hospital/records.hospital.example.key")


CERTBOT_APACHE_HTTP = """\
<VirtualHost *:80>
	ServerName {name}
	DocumentRoot /var/www/{name}
	RewriteEngine on
	RewriteCond %{{SERVER_NAME}} ={name}
	RewriteRule ^ https://%{{SERVER_NAME}}%{{REQUEST_URI}} [END,NE,R=permanent]
</VirtualHost>
"""


def write_apache_certbot(case, ctx):
    _apache_base(case, modules=src.DEBIAN_APACHE_SSL_MODULES + ("rewrite",))
    put(case, "etc/letsencrypt/options-ssl-apache.conf", src.CERTBOT_OPTIONS_APACHE)
    for site in case.sites:
        name, short = site.name, site.name.split(".")[0]
        # the site's own port-80 vhost, with the redirect certbot adds
        # (configurator.py `_set_https_redirection_rewrite_rule`)
        put(case, "etc/apache2/sites-available/%s.conf" % short, CERTBOT_APACHE_HTTP.format(name=name))
        a2ensite(case, short)
        cert_lines = src.CERTBOT_APACHE_CHAINFILE if short == "pacs" else src.CERTBOT_APACHE_FULLCHAIN
        put(case, "etc/apache2/sites-available/%s-le-ssl.conf" % short,
            src.CERTBOT_APACHE_SITE.format(name=name, cert_lines=cert_lines.format(name=name)))
        a2ensite(case, "%s-le-ssl" % short)
        for form in ("cert", "chain", "fullchain", "privkey"):
            put_bytes(case, "etc/letsencrypt/live/%s/%s.pem" % (name, form),
                      (ctx.chain.live(name) / ("%s.pem" % form)).read_bytes(), 0o600 if form == "privkey" else 0o644)
        www(case, name)


def _apache_mozilla(level):
    def write(case, ctx):
        # "this configuration requires mod_ssl, mod_rewrite, and mod_headers"; the generator's *:80 vhost
        # replaces Debian's 000-default
        _apache_base(case, modules=src.DEBIAN_APACHE_SSL_MODULES + ("headers", "rewrite"), sites=())
        generated = (src.MOZILLA_APACHE[level]
                     .replace("/path/to/signed_cert_and_intermediate_certs", "/etc/ssl/hospital/fullchain.pem")
                     .replace("/path/to/private_key", "/etc/ssl/hospital/privkey.pem"))
        put(case, "etc/apache2/sites-available/hospital-ssl.conf", generated)
        a2ensite(case, "hospital-ssl")
        install_certificate(case, ctx, case.sites[0].name, "etc/ssl/hospital/fullchain.pem",
                            "etc/ssl/hospital/privkey.pem")
    return write


# ---------------------------------------------------------------------------------------------
# Apache on the RHEL family (fixture: run by Debian's apache2 binary)

def write_apache_rhel(case, ctx):
    conf = (src.RHEL_HTTPD_CONF
            # no "apache" account on Debian: the workers run as Debian's www-data
            .replace("User apache", "User www-data").replace("Group apache", "Group www-data")
            # RHEL's httpd has these compiled in (run/httpd.pid, DEFAULT_REL_RUNTIMEDIR "run");
            # Debian's binary has other defaults, so they are made explicit
            .replace('ServerRoot "/etc/httpd"\n', 'ServerRoot "/etc/httpd"\nPidFile run/httpd.pid\n'
                     'DefaultRuntimeDir run\n'))
    put(case, "etc/httpd/conf/httpd.conf", conf)
    for name, modules in src.RHEL_MODULES.items():
        lines = ["LoadModule %s_module modules/mod_%s.so" % (m, m) for m in modules if m not in src.RHEL_BUILTIN]
        put(case, "etc/httpd/conf.modules.d/%s" % name, "\n".join(lines) + "\n")
    # RHEL's pass-phrase helper (asks systemd for the pass phrase of an encrypted key): mod_ssl checks it
    # exists; the corpus keys are not encrypted, so a stand-in that is never run does
    helper = put(case, "usr/libexec/httpd-ssl-pass-dialog", "#!/bin/sh\nexit 1\n")
    helper.chmod(0o755)
    put(case, "etc/httpd/conf.d/ssl.conf",
        src.RHEL_SSL_CONF.replace("/usr/libexec/httpd-ssl-pass-dialog", str(helper)))
    # RHEL's symlinks: /etc/httpd/modules -> ../../usr/lib64/httpd/modules (here Debian's module folder),
    # /etc/httpd/logs -> ../../var/log/httpd, /etc/httpd/run -> /run/httpd
    link(case, "etc/httpd/modules", APACHE_MODULES)
    (case.sandbox / "var/log/httpd").mkdir(parents=True, exist_ok=True)
    (case.sandbox / "run/httpd").mkdir(parents=True, exist_ok=True)
    link(case, "etc/httpd/logs", "../../var/log/httpd")
    link(case, "etc/httpd/run", "/run/httpd")
    put(case, "etc/mime.types", src.MIME_TYPES)
    install_certificate(case, ctx, case.sites[0].name, "etc/pki/tls/certs/localhost.crt",
                        "etc/pki/tls/private/localhost.key")
    www(case, "html")


# ---------------------------------------------------------------------------------------------

def _h(name):
    return "%s.%s" % (name, HOSPITAL)


def cases():
    debian_apache_env = dict(src.DEBIAN_APACHE_ENVVARS)
    a2enmod_headers = ("a2enmod headers",)
    return [
        Case("nginx-debian-default-ssl", "nginx", "etc/nginx/nginx.conf", (src.DEBIAN_NGINX_SOURCE,),
             ("Debian default snippets (snakeoil.conf, http-level ssl_protocols TLSv1..TLSv1.3 and "
              "ssl_prefer_server_ciphers on)", "IPv6 listen [::]:443 beside listen 443",
              "includes with globs (conf.d/*.conf, sites-enabled/*)"),
             [Site(_h("intranet")), Site(_h("ris"), 8443)], write_nginx_debian,
             steps=("uncomment the SSL lines of sites-available/default", "conf.d/ris.conf: a second TLS site "
                    "(ours) that inherits the http-level settings"),
             extra_ports=(80,)),
        Case("nginx-sni-default-server", "nginx", "etc/nginx/nginx.conf",
             (src.DEBIAN_NGINX_SOURCE, src.MOZILLA_SOURCE),
             ("several name-based virtual hosts on one port (SNI): the default server decides versions, "
              "groups and TLS 1.3 suites for every name (nginx < 1.29.2)", "IPv6 listen [::]:443"),
             [Site(_h("intranet")), Site(_h("records"))], write_nginx_sni_default,
             steps=("uncomment the SSL lines of sites-available/default (the default server of 443)",
                    "sites-available/records (ours): Mozilla's modern lines pasted into its server block, plus "
                    "ssl_conf_command Ciphersuites with two 256-bit suites")),
        Case("nginx-certbot-sni", "nginx", "etc/nginx/nginx.conf", (src.DEBIAN_NGINX_SOURCE, src.CERTBOT_SOURCE),
             ("certbot options-ssl-nginx.conf shared by several sites", "several name-based virtual hosts on "
              "one port (SNI)", "IPv6 listen [::]:443 (ipv6only=on)", "includes with globs (sites-enabled/*)"),
             [Site(_h("portal")), Site(_h("ehr")), Site(_h("pacs"))], write_nginx_certbot,
             steps=("certbot --nginx for three sites: each server block gets certbot's listen, certificate, "
                    "include and ssl_dhparam lines and a port-80 redirect",)),
        Case("nginx-mozilla-intermediate", "nginx", "etc/nginx/nginx.conf",
             (src.DEBIAN_NGINX_SOURCE, src.MOZILLA_SOURCE),
             ("Mozilla generator output (intermediate) for nginx", "IPv6 listen [::]:443"),
             [Site(_h("portal"))], _nginx_mozilla("intermediate"),
             steps=("the generator's http{} block pasted into Debian's nginx.conf in place of Debian's",)),
        Case("nginx-mozilla-modern", "nginx", "etc/nginx/nginx.conf", (src.DEBIAN_NGINX_SOURCE, src.MOZILLA_SOURCE),
             ("Mozilla generator output (modern) for nginx", "IPv6 listen [::]:443"),
             [Site(_h("viewer"))], _nginx_mozilla("modern"),
             steps=("the generator's http{} block pasted into Debian's nginx.conf in place of Debian's",
                    "an ECDSA P-256 certificate, as the modern level asks")),
        Case("apache-debian-default-ssl", "apache", "etc/apache2/apache2.conf", (src.DEBIAN_APACHE_SOURCE,),
             ("Debian default-ssl.conf with mods-available/ssl.conf (SSLProtocol all -SSLv3, SSLCipherSuite "
              "HIGH:!aNULL)", "IncludeOptional with globs (mods-enabled/*.load, sites-enabled/*.conf)"),
             [Site(_h("www"))], write_apache_debian, env=debian_apache_env,
             steps=("a2enmod ssl", "a2ensite default-ssl"), role_steps=a2enmod_headers),
        Case("apache-sni-default-vhost", "apache", "etc/apache2/apache2.conf",
             (src.DEBIAN_APACHE_SOURCE, src.MOZILLA_SOURCE),
             ("several name-based virtual hosts on one port (SNI): the first vhost decides the groups for "
              "every name (versions and suites follow the name)",),
             [Site(_h("www")), Site(_h("records"))], write_apache_sni_default, env=debian_apache_env,
             steps=("a2enmod ssl", "a2ensite default-ssl (the first vhost of *:443)",
                    "sites-available/records-ssl.conf (ours): Mozilla's modern lines pasted into the vhost, plus "
                    "SSLCipherSuite TLSv1.3 with two 256-bit suites"),
             role_steps=a2enmod_headers),
        Case("apache-certbot-sni", "apache", "etc/apache2/apache2.conf",
             (src.DEBIAN_APACHE_SOURCE, src.CERTBOT_SOURCE),
             ("certbot options-ssl-apache.conf shared by several sites", "several name-based virtual hosts on "
              "one port (SNI)", "Apache SSLCertificateChainFile with an intermediate CA (pacs)"),
             [Site(_h("portal")), Site(_h("ehr")), Site(_h("pacs"))], write_apache_certbot, env=debian_apache_env,
             steps=("certbot --apache for three sites (NAME-le-ssl.conf in <IfModule mod_ssl.c>, a2enmod ssl "
                    "rewrite)", "pacs was set up by an older certbot: cert.pem + SSLCertificateChainFile chain.pem"),
             role_steps=a2enmod_headers),
        Case("apache-mozilla-intermediate", "apache", "etc/apache2/apache2.conf",
             (src.DEBIAN_APACHE_SOURCE, src.MOZILLA_SOURCE),
             ("Mozilla generator output (intermediate) for Apache",),
             [Site(_h("portal"))], _apache_mozilla("intermediate"), env=debian_apache_env,
             steps=("a2enmod ssl headers rewrite", "the generator's output as sites-available/hospital-ssl.conf, "
                    "a2ensite hospital-ssl, a2dissite 000-default")),
        Case("apache-mozilla-modern", "apache", "etc/apache2/apache2.conf",
             (src.DEBIAN_APACHE_SOURCE, src.MOZILLA_SOURCE),
             ("Mozilla generator output (modern) for Apache",),
             [Site(_h("viewer"))], _apache_mozilla("modern"), env=debian_apache_env,
             steps=("a2enmod ssl headers rewrite", "the generator's output as sites-available/hospital-ssl.conf, "
                    "a2ensite hospital-ssl, a2dissite 000-default", "an ECDSA P-256 certificate")),
        Case("apache-rhel-ssl-conf", "apache", "etc/httpd/conf/httpd.conf", (src.RHEL_SOURCE,),
             ("RHEL-family httpd conf.d/ssl.conf (SSLCipherSuite PROFILE=SYSTEM, SSLProtocol left to "
              "crypto-policies)", "Include/IncludeOptional with globs (conf.modules.d/*.conf, conf.d/*.conf)"),
             [Site(_h("ehr"))], write_apache_rhel, server_root="etc/httpd",
             steps=("User/Group apache -> www-data (no apache account on Debian)", "PidFile run/httpd.pid and "
                    "DefaultRuntimeDir run made explicit (RHEL's compiled-in defaults)",
                    "modules -> Debian's /usr/lib/apache2/modules; LoadModule of modules compiled into Debian's "
                    "apache2 (log_config, unixd) left out", "SSLPassPhraseDialog exec: a stand-in for RHEL's "
                    "/usr/libexec/httpd-ssl-pass-dialog (mod_ssl checks it exists; the keys are not encrypted)"),
             cannot_serve_before=("PROFILE=SYSTEM is a Red Hat patch to OpenSSL (the crypto-policies profile); "
                                  "Debian's OpenSSL has no such cipher-string keyword, so mod_ssl cannot start "
                                  "until the cipher string is replaced. `apache2 -t` accepts it (it does not "
                                  "build TLS contexts)"),
             refuses_with="no cipher match"),
    ]


def apply_role_steps(case):
    """What roles/c11_tls/tasks/checks.yml does before tls_config: on an Apache host with HSTS wanted,
    `a2enmod headers` (creates: /etc/apache2/mods-enabled/headers.load). Returns what was done."""
    done = []
    if case.server == "apache" and (case.etc / "apache2/mods-available").is_dir():
        if not (case.etc / "apache2/mods-enabled/headers.load").exists():
            a2enmod(case, "headers")
            done.append("a2enmod headers")
    return done


def ecdsa_names(all_cases):
    """The modern cases' names get P-256 certificates (Mozilla's modern level lists only ECDSA); every
    other name an RSA one, so no other case depends on them."""
    modern = {s.name for c in all_cases if c.name.endswith("-modern") for s in c.sites}
    others = {s.name for c in all_cases if not c.name.endswith("-modern") for s in c.sites}
    assert not modern & others, "a name with an ECDSA certificate is used by a non-modern case too"
    return modern


def build(workdir, only=None):
    """Certificates, then every case's tree in WORKDIR/CASE (the sandbox), ports allocated, servers defined."""
    workdir = Path(workdir)
    workdir.chmod(0o755)
    selected = [c for c in cases() if only is None or c.name in only]
    names = sorted({site.name for case in selected for site in case.sites})
    chain = make_chain(workdir / "chain", names, ecdsa_names(selected))
    client = make_pki(workdir / "client")

    class Ctx:
        pass
    ctx = Ctx()
    ctx.chain, ctx.client = chain, client
    needed = [(case, p) for case in selected
              for p in sorted({s.source_port for s in case.sites} | set(case.extra_ports))]
    for (case, source_port), port in zip(needed, free_ports(len(needed))):
        case.ports[source_port] = port
    for case in selected:
        for site in case.sites:
            site.port = case.ports[site.source_port]
        case.sandbox = workdir / case.name
        case.sandbox.mkdir()
        case.sandbox.chmod(0o755)
        case.write(case, ctx)
        env = {k: relocate(v, case.sandbox) for k, v in case.env.items()}
        case.tree = TreeServer(case.server, case.main_path, sorted(case.ports.values()),
                               server_root=case.sandbox / case.server_root if case.server_root else None, env=env,
                               log_dir=case.sandbox)
    return Corpus(workdir, chain, client, selected)
