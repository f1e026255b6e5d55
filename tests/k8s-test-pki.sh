#!/bin/sh
# k8s-test-pki.sh DIR -- make a throw-away PKI for the fake API server tests.
#
# Writes into DIR (created if needed), all PEM:
#   ca.crt ca.key                 test CA ("ovs-netpol-test-ca")
#   server.crt server.key         server cert signed by the CA; SANs
#                                 IP:127.0.0.1, IP:::1, DNS:localhost
#   client.crt client.key         client cert signed by the CA, CN (the user
#                                 name the server sees) "ovs-netpol-test-client",
#                                 O "system:nodes"
#   wrong-ca.crt wrong-ca.key     a second, unrelated CA
#   wrong-server.crt/.key         server cert (same SANs) signed by the wrong CA
#   wrong-client.crt/.key         client cert signed by the wrong CA
#   badhost-server.crt/.key       signed by the right CA, but only for
#                                 DNS:wrong-host.invalid (hostname check must fail)
#
# Keys are EC P-256 (fast to make); K8S_TEST_PKI_KEY=rsa gives RSA 2048.
# Certificates are valid for 10 days.  Needs the openssl command (1.1.1+).
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
dir=$1
mkdir -p "$dir"
cd "$dir"

case ${K8S_TEST_PKI_KEY:-ec} in
    rsa) keyopts="-newkey rsa:2048"
         usage="digitalSignature,keyEncipherment" ;;
    *)   keyopts="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1"
         usage="digitalSignature" ;;
esac
days=10

# make_ca NAME CN
make_ca() {
    # shellcheck disable=SC2086
    openssl req -x509 $keyopts -nodes -days $days \
        -keyout "$1.key" -out "$1.crt" -subj "/CN=$2" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash" 2>/dev/null
}

# make_leaf NAME CA SUBJECT EXTENSIONS
make_leaf() {
    # shellcheck disable=SC2086
    openssl req $keyopts -nodes -keyout "$1.key" -out "$1.csr" -subj "$3" 2>/dev/null
    printf '%s\n' "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,$usage" \
        "authorityKeyIdentifier=keyid" "$4" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" \
        -CAcreateserial -days $days -extfile "$1.ext" -out "$1.crt" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}

server_ext="extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost"
client_ext="extendedKeyUsage=clientAuth"

make_ca ca "ovs-netpol-test-ca"
make_ca wrong-ca "unrelated-test-ca"
make_leaf server ca "/CN=kube-apiserver" "$server_ext"
make_leaf client ca "/O=system:nodes/CN=ovs-netpol-test-client" "$client_ext"
make_leaf wrong-server wrong-ca "/CN=kube-apiserver" "$server_ext"
make_leaf wrong-client wrong-ca "/O=system:nodes/CN=ovs-netpol-test-client" "$client_ext"
make_leaf badhost-server ca "/CN=wrong-host.invalid" "extendedKeyUsage=serverAuth
subjectAltName=DNS:wrong-host.invalid"
rm -f ./*.srl
chmod 600 ./*.key

openssl verify -CAfile ca.crt server.crt client.crt badhost-server.crt >/dev/null
openssl verify -CAfile wrong-ca.crt wrong-server.crt wrong-client.crt >/dev/null
