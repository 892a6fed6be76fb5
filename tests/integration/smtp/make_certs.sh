#!/bin/sh
# make_certs.sh DIR - a test CA and a server certificate for CN/SAN
# "localhost" signed by it, plus a second unrelated CA (for "unknown CA").
set -eu
d=$1
cd "$d"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=anpi test CA" \
    -keyout ca.key -out ca.pem >/dev/null 2>&1
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=other test CA" \
    -keyout other.key -out other.pem >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout server.key -out server.csr >/dev/null 2>&1
printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > ext.cnf
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile ext.cnf -out server.pem >/dev/null 2>&1
