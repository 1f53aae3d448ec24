#!/bin/sh
# The independent judge of one TLS endpoint for the C.11 molecule verify: what OpenSSL's own client
# (openssl s_client) and curl get from the server, without any iryo-guard code.
#
#   sh tls_judge.sh ADDRESS PORT SERVER_NAME CA_FILE CLIENT_CERT CLIENT_KEY
#
# One line per fact:
#   protocol TLSv1.2 accepted|refused        a handshake limited to that version (client certificate sent)
#   tls12 <IANA name> accepted               every TLS 1.2 suite this OpenSSL knows, offered alone
#   tls13 <IANA name> accepted               every TLS 1.3 suite, offered alone
#   client_ca_names yes|no                   the server asked for a client certificate (s_client's CA list)
#   curl without_cert|with_cert <HTTP code>  GET / over HTTPS; 000 when curl got no HTTP answer
# The client side allows everything (@SECLEVEL=0), so a refusal is the server's.
set -u
address=$1 port=$2 name=$3 ca=$4 cert=$5 key=$6

handshake() {  # extra s_client options...; prints the negotiated "version suite" or nothing
  timeout 10 openssl s_client -brief -connect "$address:$port" -servername "$name" -CAfile "$ca" \
    -cert "$cert" -key "$key" -verify_return_error "$@" </dev/null 2>&1 |
    awk '/^Protocol version:/ {v = $3} /^Ciphersuite:/ {c = $2} END {if (v != "" && c != "") print v, c}'
}

# s_client names TLS 1.0 "TLSv1"; the lines say TLSv1.0, as our probe and sslyze do.
for version in tls1 tls1_1 tls1_2 tls1_3; do
  label=$(echo "$version" | sed 's/^tls1$/TLSv1/; s/^tls1_\(.\)$/TLSv1.\1/')
  got=$(handshake "-$version" -cipher 'ALL:COMPLEMENTOFALL:@SECLEVEL=0')
  [ "$label" = TLSv1 ] && label=TLSv1.0
  if [ "$(echo "${got%% *}" | sed 's/^TLSv1$/TLSv1.0/')" = "$label" ]; then
    echo "protocol $label accepted"
  else
    echo "protocol $label refused"
  fi
done

# Every suite OpenSSL has for TLS 1.2 and below ("IANA - OpenSSL version ..."), each offered alone under TLS 1.2.
openssl ciphers -stdname 'ALL:COMPLEMENTOFALL:@SECLEVEL=0' | awk '$4 != "TLSv1.3" {print $1, $3}' |
  while read -r iana ossl; do
    [ -n "$(handshake -tls1_2 -cipher "$ossl:@SECLEVEL=0")" ] && echo "tls12 $iana accepted"
  done
for suite in TLS_AES_256_GCM_SHA384 TLS_CHACHA20_POLY1305_SHA256 TLS_AES_128_GCM_SHA256 \
             TLS_AES_128_CCM_SHA256 TLS_AES_128_CCM_8_SHA256; do
  [ -n "$(handshake -tls1_3 -ciphersuites "$suite")" ] && echo "tls13 $suite accepted"
done

if timeout 10 openssl s_client -connect "$address:$port" -servername "$name" -CAfile "$ca" </dev/null 2>&1 |
    grep -q '^Acceptable client certificate CA names'; then
  echo "client_ca_names yes"
else
  echo "client_ca_names no"
fi

for how in without_cert with_cert; do
  set -- --silent --output /dev/null --write-out '%{http_code}' --max-time 10 --cacert "$ca" \
    --resolve "$name:$port:$address" "https://$name:$port/"
  [ "$how" = with_cert ] && set -- --cert "$cert" --key "$key" "$@"
  echo "curl $how $(curl "$@" 2>/dev/null || true)"
done
