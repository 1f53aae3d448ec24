"""Real-world TLS configuration files, transcribed with their origin.

Every text here is a file (or the TLS-relevant part of one) as its publisher ships it, with the
real paths (/etc/nginx, /etc/letsencrypt, port 443, ...). cases.py relocates paths into a temp
sandbox and ports onto 127.0.0.1 (see ``relocate`` and ``bind`` there); nothing else is changed
unless the case says so (e.g. "the admin uncomments Debian's SSL lines").

Long comment blocks are shortened to what matters for TLS (marked "[comments shortened]");
directives are kept in order, spelled as shipped.
"""

# ---------------------------------------------------------------------------------------------
# certbot (https://github.com/certbot/certbot, commit f769e35e77f1fa21a75cd5418641502dad8a37c5,
# 2026-06-24)

CERTBOT_SOURCE = "certbot/certbot@f769e35e"

# certbot/src/certbot/_internal/plugins/nginx/tls_configs/options-ssl-nginx.conf, installed as
# /etc/letsencrypt/options-ssl-nginx.conf and included by every site certbot manages.
CERTBOT_OPTIONS_NGINX = """\
# This file contains important security parameters. If you modify this file
# manually, Certbot will be unable to automatically provide future security
# updates. Instead, Certbot will print and log an error message with a path to
# the up-to-date file that you will need to refer to when manually updating
# this file. Contents are based on https://ssl-config.mozilla.org

ssl_session_cache shared:le_nginx_SSL:10m;
ssl_session_timeout 1440m;
ssl_session_tickets off;

ssl_protocols TLSv1.2 TLSv1.3;
ssl_prefer_server_ciphers off;

ssl_ciphers "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:\
ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:\
DHE-RSA-AES256-GCM-SHA384";
"""

# certbot/src/certbot/_internal/plugins/apache/tls_configs/current-options-ssl-apache.conf, installed
# as /etc/letsencrypt/options-ssl-apache.conf and Included by every *-le-ssl.conf vhost.
CERTBOT_OPTIONS_APACHE = """\
# This file contains important security parameters. If you modify this file
# manually, Certbot will be unable to automatically provide future security
# updates. Instead, Certbot will print and log an error message with a path to
# the up-to-date file that you will need to refer to when manually updating
# this file. Contents are based on https://ssl-config.mozilla.org

SSLEngine on

# Intermediate configuration, tweak to your needs
SSLProtocol             all -SSLv2 -SSLv3 -TLSv1 -TLSv1.1
SSLOpenSSLConfCmd       Curves X25519:prime256v1:secp384r1
SSLCipherSuite          ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:\
ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:\
DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305
SSLHonorCipherOrder     off
SSLSessionTickets       off

SSLOptions +StrictRequire
"""
# (The two long cipher lines are one line in the original; the backslash-newline above only
# wraps this Python source, it is not in the text.)

# The server block certbot's nginx installer writes (configurator.py `_make_server_ssl`: the
# listen lines, ssl_certificate, ssl_certificate_key, the include and ssl_dhparam, each marked
# "# managed by Certbot" (parser.py COMMENT); `ipv6only=on` on the first [::]:443 listen only) and
# the port-80 redirect block (`_redirect_block_for_domain`: `if ($host = NAME) { return 301
# https://$host$request_uri; }`). {name} is the site's name; {ipv6only} is " ipv6only=on" or "".
CERTBOT_NGINX_SITE = """\
server {{
    root /var/www/{name};
    index index.html;
    server_name {name};

    location / {{
        try_files $uri $uri/ =404;
    }}

    listen [::]:443 ssl{ipv6only}; # managed by Certbot
    listen 443 ssl; # managed by Certbot
    ssl_certificate /etc/letsencrypt/live/{name}/fullchain.pem; # managed by Certbot
    ssl_certificate_key /etc/letsencrypt/live/{name}/privkey.pem; # managed by Certbot
    include /etc/letsencrypt/options-ssl-nginx.conf; # managed by Certbot
    ssl_dhparam /etc/letsencrypt/ssl-dhparams.pem; # managed by Certbot

}}
server {{
    if ($host = {name}) {{
        return 301 https://$host$request_uri;
    }} # managed by Certbot


    listen 80;
    listen [::]:80;
    server_name {name};
    return 404; # managed by Certbot


}}
"""

# The vhost certbot's Apache installer writes next to the port-80 one (configurator.py
# `make_vhost_ssl`: the copy is wrapped in <IfModule mod_ssl.c>, named NAME-le-ssl.conf, gets
# SSLCertificateFile/SSLCertificateKeyFile and the Include). {cert_lines} is either the
# fullchain form (Apache >= 2.4.8) or, for sites set up with an older certbot / Apache, cert.pem
# plus the deprecated SSLCertificateChainFile (configurator.py lines 670-706: "SSLCertificateChainFile").
CERTBOT_APACHE_SITE = """\
<IfModule mod_ssl.c>
<VirtualHost *:443>
	ServerName {name}
	ServerAdmin webmaster@localhost
	DocumentRoot /var/www/{name}
	ErrorLog ${{APACHE_LOG_DIR}}/error.log
	CustomLog ${{APACHE_LOG_DIR}}/access.log combined

{cert_lines}
Include /etc/letsencrypt/options-ssl-apache.conf
</VirtualHost>
</IfModule>
"""
CERTBOT_APACHE_FULLCHAIN = """\
SSLCertificateFile /etc/letsencrypt/live/{name}/fullchain.pem
SSLCertificateKeyFile /etc/letsencrypt/live/{name}/privkey.pem"""
CERTBOT_APACHE_CHAINFILE = """\
SSLCertificateFile /etc/letsencrypt/live/{name}/cert.pem
SSLCertificateKeyFile /etc/letsencrypt/live/{name}/privkey.pem
SSLCertificateChainFile /etc/letsencrypt/live/{name}/chain.pem"""

# ---------------------------------------------------------------------------------------------
# Mozilla SSL Configuration Generator (https://github.com/mozilla/ssl-config-generator, commit
# 858f8f74a4fd1293a3a7f5ab0c16eb1eb891393a, 2026-05-03): src/js/helpers/nginx.js and apache.js
# rendered with src/static/guidelines/6.0.json (the generator's `guideln_latest`), for the
# versions this machine runs (nginx 1.22.1, Apache 2.4.71, OpenSSL 3.0), HSTS on, OCSP off;
# rendered by hand on 2026-12-04 following the helpers line by line (the header is state.js's format).
# With OpenSSL < 3.5 state.js drops X25519MLKEM768 from tls_curves; nginx < 1.23.2 adds
# `ssl_session_tickets off`; Apache >= 2.4.7 puts the chain into SSLCertificateFile.

MOZILLA_SOURCE = "mozilla/ssl-config-generator@858f8f74 (guideline 6.0)"
MOZILLA_NGINX = {
    "intermediate": """\
# generated 2026-12-04, Mozilla Guideline v6.0, nginx 1.22.1 (UNSUPPORTED; end-of-life), \
OpenSSL 3.0.19 (OLD: missing PQC hybrid MLKEMs), \
intermediate config, HSTS
# https://ssl-config.mozilla.org/#server=nginx&version=1.22.1&config=intermediate&openssl=3.0.19&hsts&guideline=6.0

http {

    server {
        listen 443 ssl http2;
        listen [::]:443 ssl http2;
        ssl_certificate /path/to/signed_cert_plus_intermediates;
        ssl_certificate_key /path/to/private_key;

        # HSTS (ngx_http_headers_module is required) (63072000 seconds)
        add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;
    }

    # intermediate configuration
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ecdh_curve X25519:prime256v1:secp384r1;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:\
ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;
    ssl_prefer_server_ciphers off;

    # see also ssl_session_ticket_key alternative to stateful session cache
    ssl_session_timeout 1d;
    ssl_session_cache shared:MozSSL:10m;  # about 40000 sessions
    ssl_session_tickets off;

    # HSTS
    server {
        listen 80 default_server;
        listen [::]:80 default_server;

        return 308 https://$host$request_uri;
    }
}
""",
    "modern": """\
# generated 2026-12-04, Mozilla Guideline v6.0, nginx 1.22.1 (UNSUPPORTED; end-of-life), \
OpenSSL 3.0.19 (OLD: missing PQC hybrid MLKEMs), \
modern config, HSTS
# https://ssl-config.mozilla.org/#server=nginx&version=1.22.1&config=modern&openssl=3.0.19&hsts&guideline=6.0

http {

    server {
        listen 443 ssl http2;
        listen [::]:443 ssl http2;
        ssl_certificate /path/to/signed_cert_plus_intermediates;
        ssl_certificate_key /path/to/private_key;

        # HSTS (ngx_http_headers_module is required) (63072000 seconds)
        add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;
    }

    # modern configuration
    ssl_protocols TLSv1.3;
    ssl_ecdh_curve X25519:prime256v1:secp384r1;
    ssl_prefer_server_ciphers off;

    # uncomment to enable if ssl_protocols includes TLSv1.2 or earlier;
    # see also ssl_session_ticket_key alternative to stateful session cache
    #ssl_session_timeout 1d;
    #ssl_session_cache shared:MozSSL:10m;  # about 40000 sessions
    ssl_session_tickets off;

    # HSTS
    server {
        listen 80 default_server;
        listen [::]:80 default_server;

        return 308 https://$host$request_uri;
    }
}
""",
}

MOZILLA_APACHE = {
    "intermediate": """\
# generated 2026-12-04, Mozilla Guideline v6.0, Apache 2.4.71, OpenSSL 3.0.19 (OLD: missing PQC hybrid MLKEMs), \
intermediate config, HSTS
# https://ssl-config.mozilla.org/#server=apache&version=2.4.71&config=intermediate&openssl=3.0.19&hsts&guideline=6.0

# this configuration requires mod_ssl, mod_rewrite, and mod_headers
<VirtualHost *:80>
    RewriteEngine On
    RewriteCond %{REQUEST_URI} !^/\\.well\\-known/acme\\-challenge/
    RewriteRule ^.*$ https://%{HTTP_HOST}%{REQUEST_URI} [R=308,QSA,L]
</VirtualHost>

<VirtualHost *:443>
    SSLEngine on
    SSLCertificateFile      /path/to/signed_cert_and_intermediate_certs
    SSLCertificateKeyFile   /path/to/private_key

    # enable HTTP/2, if available
    Protocols h2 http/1.1

    # HTTP Strict Transport Security (mod_headers is required) (63072000 seconds)
    Header always set Strict-Transport-Security "max-age=63072000; includeSubDomains"
</VirtualHost>

# intermediate configuration
SSLProtocol             -all +TLSv1.2 +TLSv1.3
SSLOpenSSLConfCmd       Curves X25519:prime256v1:secp384r1
SSLCipherSuite          ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:\
ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305
SSLCipherSuite          TLSv1.3 TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256
SSLHonorCipherOrder     off
SSLSessionTickets       off
""",
    "modern": """\
# generated 2026-12-04, Mozilla Guideline v6.0, Apache 2.4.71, OpenSSL 3.0.19 (OLD: missing PQC hybrid MLKEMs), \
modern config, HSTS
# https://ssl-config.mozilla.org/#server=apache&version=2.4.71&config=modern&openssl=3.0.19&hsts&guideline=6.0

# this configuration requires mod_ssl, mod_rewrite, and mod_headers
<VirtualHost *:80>
    RewriteEngine On
    RewriteCond %{REQUEST_URI} !^/\\.well\\-known/acme\\-challenge/
    RewriteRule ^.*$ https://%{HTTP_HOST}%{REQUEST_URI} [R=308,QSA,L]
</VirtualHost>

<VirtualHost *:443>
    SSLEngine on
    SSLCertificateFile      /path/to/signed_cert_and_intermediate_certs
    SSLCertificateKeyFile   /path/to/private_key

    # enable HTTP/2, if available
    Protocols h2 http/1.1

    # HTTP Strict Transport Security (mod_headers is required) (63072000 seconds)
    Header always set Strict-Transport-Security "max-age=63072000; includeSubDomains"
</VirtualHost>

# modern configuration
SSLProtocol             -all +TLSv1.3
SSLOpenSSLConfCmd       Curves X25519:prime256v1:secp384r1
SSLCipherSuite          TLSv1.3 TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256
SSLHonorCipherOrder     off
SSLSessionTickets       off
""",
}

# ---------------------------------------------------------------------------------------------
# Debian 12 packages as installed on this controller (`dpkg --verify` clean): nginx-common
# 1.22.1-9+deb12u12 (/etc/nginx/nginx.conf, sites-available/default, snippets/snakeoil.conf) and
# apache2 2.4.71-1~deb12u1 (/etc/apache2/apache2.conf, ports.conf, envvars,
# mods-available/ssl.conf, sites-available/000-default.conf and default-ssl.conf, the
# mods-enabled/*.load of a fresh install).

DEBIAN_NGINX_SOURCE = "Debian 12 nginx-common 1.22.1-9+deb12u12"
DEBIAN_APACHE_SOURCE = "Debian 12 apache2 2.4.71-1~deb12u1"

DEBIAN_NGINX_CONF = """\
user www-data;
worker_processes auto;
pid /run/nginx.pid;
error_log /var/log/nginx/error.log;
include /etc/nginx/modules-enabled/*.conf;

events {
	worker_connections 768;
	# multi_accept on;
}

http {

	##
	# Basic Settings
	##

	sendfile on;
	tcp_nopush on;
	types_hash_max_size 2048;
	# server_tokens off;

	# server_names_hash_bucket_size 64;
	# server_name_in_redirect off;

	include /etc/nginx/mime.types;
	default_type application/octet-stream;

	##
	# SSL Settings
	##

	ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3; # Dropping SSLv3, ref: POODLE
	ssl_prefer_server_ciphers on;

	##
	# Logging Settings
	##

	access_log /var/log/nginx/access.log;

	##
	# Gzip Settings
	##

	gzip on;

	##
	# Virtual Host Configs
	##

	include /etc/nginx/conf.d/*.conf;
	include /etc/nginx/sites-enabled/*;
}
"""
# [comments shortened: the gzip_* examples and the commented-out mail{} block are left out]

# sites-available/default as shipped: TLS is commented out; enabling it means uncommenting the
# three lines marked "# listen 443 ...", "# listen [::]:443 ..." and "# include snippets/snakeoil.conf;".
DEBIAN_NGINX_DEFAULT_SITE = """\
##
# [comments shortened]
##

# Default server configuration
#
server {
	listen 80 default_server;
	listen [::]:80 default_server;

	# SSL configuration
	#
	# listen 443 ssl default_server;
	# listen [::]:443 ssl default_server;
	#
	# Note: You should disable gzip for SSL traffic.
	# See: https://bugs.debian.org/773332
	#
	# Read up on ssl_ciphers to ensure a secure configuration.
	# See: https://bugs.debian.org/765782
	#
	# Self signed certs generated by the ssl-cert package
	# Don't use them in a production server!
	#
	# include snippets/snakeoil.conf;

	root /var/www/html;

	# Add index.php to the list if you are using PHP
	index index.html index.htm index.nginx-debian.html;

	server_name _;

	location / {
		# First attempt to serve request as file, then
		# as directory, then fall back to displaying a 404.
		try_files $uri $uri/ =404;
	}
}
"""

DEBIAN_NGINX_SNAKEOIL = """\
# Self signed certificates generated by the ssl-cert package
# Don't use them in a production server!

ssl_certificate /etc/ssl/certs/ssl-cert-snakeoil.pem;
ssl_certificate_key /etc/ssl/private/ssl-cert-snakeoil.key;
"""

# nginx's own mime.types is data, not TLS: a one-type stand-in keeps `include mime.types` valid.
NGINX_MIME_TYPES = "types {\n    text/html html htm;\n}\n"

DEBIAN_APACHE_ENVVARS = {
    # /etc/apache2/envvars (what apache2ctl and the systemd unit export before starting apache2)
    "APACHE_RUN_USER": "www-data",
    "APACHE_RUN_GROUP": "www-data",
    "APACHE_PID_FILE": "/var/run/apache2/apache2.pid",
    "APACHE_RUN_DIR": "/var/run/apache2",
    "APACHE_LOCK_DIR": "/var/lock/apache2",
    "APACHE_LOG_DIR": "/var/log/apache2",
    "LANG": "C",
}

DEBIAN_APACHE2_CONF = """\
# [comments shortened]
DefaultRuntimeDir ${APACHE_RUN_DIR}
PidFile ${APACHE_PID_FILE}
Timeout 300
KeepAlive On
MaxKeepAliveRequests 100
KeepAliveTimeout 5
User ${APACHE_RUN_USER}
Group ${APACHE_RUN_GROUP}
HostnameLookups Off
ErrorLog ${APACHE_LOG_DIR}/error.log
LogLevel warn

# Include module configuration:
IncludeOptional mods-enabled/*.load
IncludeOptional mods-enabled/*.conf

# Include list of ports to listen on
Include ports.conf

<Directory />
	Options FollowSymLinks
	AllowOverride None
	Require all denied
</Directory>

<Directory /usr/share>
	AllowOverride None
	Require all granted
</Directory>

<Directory /var/www/>
	Options Indexes FollowSymLinks
	AllowOverride None
	Require all granted
</Directory>

AccessFileName .htaccess

<FilesMatch "^\\.ht">
	Require all denied
</FilesMatch>

LogFormat "%v:%p %h %l %u %t \\"%r\\" %>s %O \\"%{Referer}i\\" \\"%{User-Agent}i\\"" vhost_combined
LogFormat "%h %l %u %t \\"%r\\" %>s %O \\"%{Referer}i\\" \\"%{User-Agent}i\\"" combined
LogFormat "%h %l %u %t \\"%r\\" %>s %O" common
LogFormat "%{Referer}i -> %U" referer
LogFormat "%{User-agent}i" agent

# Include of directories ignores editors' and dpkg's backup files,
# see README.Debian for details.

# Include generic snippets of statements
IncludeOptional conf-enabled/*.conf

# Include the virtual host configurations:
IncludeOptional sites-enabled/*.conf
"""

DEBIAN_APACHE_PORTS = """\
# If you just change the port or add more ports here, you will likely also
# have to change the VirtualHost statement in
# /etc/apache2/sites-enabled/000-default.conf

Listen 80

<IfModule ssl_module>
	Listen 443
</IfModule>

<IfModule mod_gnutls.c>
	Listen 443
</IfModule>
"""

# The modules a fresh Debian install enables (mods-enabled/*.load), module -> .so name.
DEBIAN_APACHE_DEFAULT_MODULES = (
    "access_compat", "alias", "auth_basic", "authn_core", "authn_file", "authz_core", "authz_host",
    "authz_user", "autoindex", "deflate", "dir", "env", "filter", "mime", "mpm_event", "negotiation",
    "reqtimeout", "setenvif", "status")
# `a2enmod ssl` adds these two (ssl.load's "# Depends: setenvif mime socache_shmcb").
DEBIAN_APACHE_SSL_MODULES = ("socache_shmcb", "ssl")

DEBIAN_APACHE_MOD_SSL_CONF = """\
<IfModule mod_ssl.c>

	# [comments shortened]
	SSLRandomSeed startup builtin
	SSLRandomSeed startup file:/dev/urandom 512
	SSLRandomSeed connect builtin
	SSLRandomSeed connect file:/dev/urandom 512

	AddType application/x-x509-ca-cert .crt
	AddType application/x-pkcs7-crl .crl

	SSLPassPhraseDialog  exec:/usr/share/apache2/ask-for-passphrase

	SSLSessionCache		shmcb:${APACHE_RUN_DIR}/ssl_scache(512000)
	SSLSessionCacheTimeout  300

	#   SSL Cipher Suite:
	#   List the ciphers that the client is permitted to negotiate. See the
	#   ciphers(1) man page from the openssl package for list of all available
	#   options.
	#   Enable only secure ciphers:
	SSLCipherSuite HIGH:!aNULL

	#   The protocols to enable.
	#   Available values: all, SSLv3, TLSv1, TLSv1.1, TLSv1.2
	#   SSL v2  is no longer supported
	SSLProtocol all -SSLv3

	#   Allow insecure renegotiation with clients which do not yet support the
	#   "renegotiation_info" extension
	#SSLInsecureRenegotiation Off

	#   Whether to forbid non-SNI clients to access name based virtual hosts.
	#   Default: Off
	#SSLStrictSNIVHostCheck On

	#   Use the server's cipher ordering preference instead of the client's
	#   preference
	#SSLHonorCipherOrder on

	#   Disable TLS session tickets
	SSLSessionTickets off

</IfModule>
"""

# mods-available/mime.conf, the TypesConfig line (the AddType/AddLanguage lines are not TLS)
DEBIAN_APACHE_MIME_CONF = """\
<IfModule mod_mime.c>
	# [comments and AddType lines shortened]
	TypesConfig /etc/mime.types
</IfModule>
"""
# /etc/mime.types (package media-types) is data, not TLS: a one-line stand-in.
MIME_TYPES = "text/html html htm\n"

DEBIAN_APACHE_000_DEFAULT = """\
<VirtualHost *:80>
	# [comments shortened]
	ServerAdmin webmaster@localhost
	DocumentRoot /var/www/html

	ErrorLog ${APACHE_LOG_DIR}/error.log
	CustomLog ${APACHE_LOG_DIR}/access.log combined
</VirtualHost>
"""

DEBIAN_APACHE_DEFAULT_SSL = """\
<VirtualHost *:443>
	ServerAdmin webmaster@localhost

	DocumentRoot /var/www/html

	ErrorLog ${APACHE_LOG_DIR}/error.log
	CustomLog ${APACHE_LOG_DIR}/access.log combined

	#   SSL Engine Switch:
	#   Enable/Disable SSL for this virtual host.
	SSLEngine on

	#   A self-signed (snakeoil) certificate can be created by installing
	#   the ssl-cert package. See
	#   /usr/share/doc/apache2/README.Debian.gz for more info.
	#   If both key and certificate are stored in the same file, only the
	#   SSLCertificateFile directive is needed.
	SSLCertificateFile      /etc/ssl/certs/ssl-cert-snakeoil.pem
	SSLCertificateKeyFile   /etc/ssl/private/ssl-cert-snakeoil.key

	#SSLCertificateChainFile /etc/apache2/ssl.crt/server-ca.crt
	#SSLCACertificateFile /etc/apache2/ssl.crt/ca-bundle.crt
	#SSLVerifyClient require
	#SSLVerifyDepth  10
	# [comments shortened]

	<FilesMatch "\\.(?:cgi|shtml|phtml|php)$">
		SSLOptions +StdEnvVars
	</FilesMatch>
	<Directory /usr/lib/cgi-bin>
		SSLOptions +StdEnvVars
	</Directory>
</VirtualHost>
"""

# ---------------------------------------------------------------------------------------------
# RHEL family (RHEL 8/9, Fedora, Alma/Rocky): httpd's conf/httpd.conf and mod_ssl's conf.d/ssl.conf.
# The packages' dist-git (src.fedoraproject.org/rpms/httpd: httpd.conf, 00-*.conf, ssl.conf) is
# not reachable from this machine; the directives below are transcribed from public copies of
# the stock files found by code search (the RHEL 8/9 ssl.conf: "SSLProtocol" commented out with
# "The OpenSSL system profile is used by default. See update-crypto-policies(8)", then
# "SSLHonorCipherOrder on", "SSLCipherSuite PROFILE=SYSTEM", "SSLProxyCipherSuite PROFILE=SYSTEM").
# Confidence: secondary. Only the directive lines and the TLS comments are kept.

RHEL_SOURCE = "RHEL 8/9 httpd + mod_ssl stock files (secondary: public copies; dist-git not reachable)"

RHEL_HTTPD_CONF = """\
# [comments shortened]
ServerRoot "/etc/httpd"
Listen 80
Include conf.modules.d/*.conf
User apache
Group apache
ServerAdmin root@localhost

<Directory />
    AllowOverride none
    Require all denied
</Directory>

DocumentRoot "/var/www/html"

<Directory "/var/www/html">
    Options Indexes FollowSymLinks
    AllowOverride None
    Require all granted
</Directory>

<IfModule dir_module>
    DirectoryIndex index.html
</IfModule>

<Files ".ht*">
    Require all denied
</Files>

ErrorLog "logs/error_log"
LogLevel warn

<IfModule mime_module>
    TypesConfig /etc/mime.types
</IfModule>

AddDefaultCharset UTF-8

EnableSendfile on

# Supplemental configuration
#
# Load config files in the "/etc/httpd/conf.d" directory, if any.
IncludeOptional conf.d/*.conf
"""

# conf.modules.d/00-base.conf (the modules that exist under the same names in Debian's
# apache2-bin; RHEL's list is longer), 00-mpm.conf (event, RHEL 8+ default), 00-ssl.conf.
RHEL_MODULES = {
    "00-base.conf": ("alias", "authz_core", "authz_host", "dir", "headers", "log_config", "mime", "rewrite",
                     "setenvif", "unixd"),
    "00-mpm.conf": ("mpm_event",),
    "00-ssl.conf": ("ssl",),
    "00-socache.conf": ("socache_shmcb",),
}
RHEL_BUILTIN = ("log_config", "unixd")   # compiled into Debian's apache2: a LoadModule would fail

RHEL_SSL_CONF = """\
#
# When we also provide SSL we have to listen to the
# standard HTTPS port in addition.
#
Listen 443 https

##
##  SSL Global Context
##

SSLPassPhraseDialog exec:/usr/libexec/httpd-ssl-pass-dialog

SSLSessionCache         shmcb:/run/httpd/sslcache(512000)
SSLSessionCacheTimeout  300

SSLCryptoDevice builtin
#SSLCryptoDevice ubsec

##
## SSL Virtual Host Context
##

<VirtualHost _default_:443>

# General setup for the virtual host, inherited from global configuration
#DocumentRoot "/var/www/html"
#ServerName www.example.com:443

# Use separate log files for the SSL virtual host; note that LogLevel
# is not inherited from httpd.conf.
ErrorLog logs/ssl_error_log
TransferLog logs/ssl_access_log
LogLevel warn

#   SSL Engine Switch:
#   Enable/Disable SSL for this virtual host.
SSLEngine on

#   List the protocol versions which clients are allowed to connect with.
#   The OpenSSL system profile is used by default.  See
#   update-crypto-policies(8) for more details.
#SSLProtocol all -SSLv3
#SSLProxyProtocol all -SSLv3

#   User agents such as web browsers are not configured for the user's
#   own preference of either security or performance, therefore this
#   must be the prerogative of the web server administrator who manages
#   cpu load versus confidentiality, so enforce the server's cipher order.
SSLHonorCipherOrder on

#   SSL Cipher Suite:
#   List the ciphers that the client is permitted to negotiate.
#   See the mod_ssl documentation for a complete list.
#   The OpenSSL system profile is configured by default.  See
#   update-crypto-policies(8) for more details.
SSLCipherSuite PROFILE=SYSTEM
SSLProxyCipherSuite PROFILE=SYSTEM

#   Point SSLCertificateFile at a PEM encoded certificate.
SSLCertificateFile /etc/pki/tls/certs/localhost.crt

#   Server Private Key:
SSLCertificateKeyFile /etc/pki/tls/private/localhost.key

#   Server Certificate Chain:
#SSLCertificateChainFile /etc/pki/tls/certs/server-chain.crt

#   Certificate Authority (CA):
#SSLCACertificateFile /etc/pki/tls/certs/ca-bundle.crt

#   Client Authentication (Type):
#SSLVerifyClient require
#SSLVerifyDepth  10

<FilesMatch "\\.(cgi|shtml|phtml|php)$">
    SSLOptions +StdEnvVars
</FilesMatch>
<Directory "/var/www/cgi-bin">
    SSLOptions +StdEnvVars
</Directory>

BrowserMatch "MSIE [2-5]" \\
         nokeepalive ssl-unclean-shutdown \\
         downgrade-1.0 force-response-1.0

#   Per-Server Logging:
CustomLog logs/ssl_request_log \\
          "%t %h %{SSL_PROTOCOL}x %{SSL_CIPHER}x \\"%r\\" %b"

</VirtualHost>
"""
