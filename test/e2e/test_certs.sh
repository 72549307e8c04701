# dsguard certs, end to end: the files it writes are checked with the openssl
# command line (an independent oracle), served in a real TLS handshake, and
# every `dsguard certs` example of docs/certs.md is run here as written.
. "$(dirname "$0")/lib.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
: "${PYTHON:=python3}"
umask 022
work=$(mktemp -d)
server_pid=""
stop_server() {
	if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; fi
	server_pid=""
}
trap 'stop_server; rm -rf "$work"' EXIT
mkdir "$work/bin"
ln -s "$DSGUARD_BIN" "$work/bin/dsguard"
PATH="$work/bin:$PATH"
cd "$work" || exit 1

skip() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1 # SKIP $2"; }

# example CMDLINE: runs a command line of docs/certs.md as written (stdout to
# out, stderr to err, exit code to rc) and records it as tested.
example() {
	printf '%s\n' "$1" >>examples.run
	sh -c "$1" >out 2>err
	echo $? >rc
}
rc_is() { [ "$(cat rc)" -eq "$1" ]; }
stdout_empty() { [ ! -s out ]; }
err_has() { grep -q -- "$1" err; }
out_has() { grep -q -- "$1" out; }
mode_is() { [ "$(stat -c %a "$1")" = "$2" ]; }

# -- making the default set -------------------------------------------------
example 'dsguard certs --out certs > ca-bundle.txt'
ok "make: exits 0" rc_is 0
ok "make: prints nothing else on stdout" stdout_empty
ok "make: tells what it did on stderr" err_has "wrote certs/"
one_line() { [ "$(wc -l <"$1")" -eq 1 ] && [ "$(wc -c <"$1")" -gt 100 ]; }
ok "make: the caBundle is one line" one_line ca-bundle.txt
bundle_is_ca() { base64 -d ca-bundle.txt | cmp -s - certs/ca.crt; }
ok "make: the caBundle decodes to exactly ca.crt" bundle_is_ca
ok "make: DIR is created with mode 0700" mode_is certs 700
ok "make: ca.key has mode 0600" mode_is certs/ca.key 600
ok "make: tls.key has mode 0600" mode_is certs/tls.key 600
ok "make: ca.crt has mode 0644" mode_is certs/ca.crt 644
ok "make: tls.crt has mode 0644" mode_is certs/tls.crt 644

# sans_are CERT WANT: the certificate's subjectAltName as openssl prints it.
sans_are() {
	got=$(openssl x509 -in "$1" -noout -ext subjectAltName | sed -n '2s/^ *//p')
	[ "$got" = "$2" ] || { echo "# got:  $got"; echo "# want: $2"; return 1; }
}
ok "make: SANs are the Service's four names" sans_are certs/tls.crt \
	"DNS:dsguard, DNS:dsguard.dsguard, DNS:dsguard.dsguard.svc, DNS:dsguard.dsguard.svc.cluster.local"
verifies() { openssl verify -purpose sslserver -CAfile "$1/ca.crt" "$1/tls.crt" 2>&1 | grep -qx "$1/tls.crt: OK"; }
ok "make: tls.crt verifies against ca.crt (openssl verify)" verifies certs
ext_has() { openssl x509 -in "$1" -noout -ext "$2" | grep -q -- "$3"; }
ok "make: ca.crt is a CA (basicConstraints)" ext_has certs/ca.crt basicConstraints "CA:TRUE"
ok "make: ca.crt may sign certificates (keyUsage)" ext_has certs/ca.crt keyUsage "Certificate Sign"
ok "make: tls.crt is not a CA" ext_has certs/tls.crt basicConstraints "CA:FALSE"
ok "make: tls.crt is for serverAuth" ext_has certs/tls.crt extendedKeyUsage "TLS Web Server Authentication"
key_has() { openssl pkey -in "$1" -noout -text | grep -q -- "$2"; }
ok "make: tls.key is EC P-256" key_has certs/tls.key "NIST CURVE: P-256"
ok "make: ca.key is EC P-256" key_has certs/ca.key "NIST CURVE: P-256"
key_pair() { [ "$(openssl pkey -in "$1" -pubout)" = "$(openssl x509 -in "$2" -noout -pubkey)" ]; }
ok "make: tls.key is the key of tls.crt" key_pair certs/tls.key certs/tls.crt
# valid_days CERT N: not-after is N days from now (made within the last minute).
valid_days() {
	end=$(date -u -d "$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)" +%s)
	left=$((end - $(date -u +%s)))
	[ "$left" -le $(($2 * 86400)) ] && [ "$left" -gt $(($2 * 86400 - 60)) ] ||
		{ echo "# $left seconds left, want $2 days"; return 1; }
}
ok "make: valid for 365 days by default" valid_days certs/tls.crt 365

# -- making with every option -----------------------------------------------
example 'dsguard certs --out certs-rsa --rsa --service admission --namespace webhooks --host dsguard.example.com --host 127.0.0.1 --host fd00::7 --days 90 > ca-bundle-rsa.txt'
ok "make --rsa: exits 0" rc_is 0
ok "make --rsa: SANs are the Service's names, then each --host" sans_are certs-rsa/tls.crt \
	"DNS:admission, DNS:admission.webhooks, DNS:admission.webhooks.svc, DNS:admission.webhooks.svc.cluster.local, DNS:dsguard.example.com, IP Address:127.0.0.1, IP Address:FD00:0:0:0:0:0:0:7"
ok "make --rsa: tls.key is RSA 2048" key_has certs-rsa/tls.key "Private-Key: (2048 bit"
ok "make --rsa: ca.key is RSA 2048" key_has certs-rsa/ca.key "Private-Key: (2048 bit"
ok "make --rsa: tls.crt verifies against ca.crt" verifies certs-rsa
ok "make --rsa: --days 90" valid_days certs-rsa/tls.crt 90
bundle_rsa_is_ca() { base64 -d ca-bundle-rsa.txt | cmp -s - certs-rsa/ca.crt; }
ok "make --rsa: the caBundle decodes to exactly ca.crt" bundle_rsa_is_ca

# -- a real TLS handshake ---------------------------------------------------
# serve DIR: openssl s_server with DIR's pair on a free loopback port.
serve() {
	port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	timeout 60 openssl s_server -accept "127.0.0.1:$port" -cert "$1/tls.crt" -key "$1/tls.key" -www \
		</dev/null >server.out 2>&1 &
	server_pid=$!
	for _ in $(seq 50); do grep -q ACCEPT server.out && return 0; sleep 0.1; done
	return 1
}
# handshake DIR OPTIONS...: openssl s_client trusting only DIR/ca.crt. A
# second try when the first fails, for a client starved on a busy machine;
# the client's output of a failed try goes to stderr.
handshake_once() {
	dir=$1; shift
	timeout 10 openssl s_client -connect "127.0.0.1:$port" -verify_return_error -CAfile "$dir/ca.crt" \
		"$@" </dev/null >client.out 2>&1 && grep -q "Verify return code: 0 (ok)" client.out
}
handshake() {
	handshake_once "$@" && return 0
	sed 's/^/# client: /' client.out | tail -5 >&2
	handshake_once "$@"
}
fails() { ! "$@"; }
if serve certs; then
	ok "handshake: TLS 1.3 with -servername dsguard.dsguard.svc" handshake certs -tls1_3 \
		-servername dsguard.dsguard.svc -verify_hostname dsguard.dsguard.svc
	ok "handshake: TLS 1.2 with -servername dsguard.dsguard.svc" handshake certs -tls1_2 \
		-servername dsguard.dsguard.svc -verify_hostname dsguard.dsguard.svc
	ok "handshake: the short Service name verifies" handshake certs -servername dsguard -verify_hostname dsguard
	ok "handshake: a name not in the SANs fails" fails handshake certs \
		-servername other.dsguard.svc -verify_hostname other.dsguard.svc
	ok "handshake: another CA is not trusted" fails handshake certs-rsa -servername dsguard.dsguard.svc
else
	ok "handshake: openssl s_server starts" false
fi
stop_server
if serve certs-rsa; then
	ok "handshake: RSA pair with an IP SAN (-verify_ip 127.0.0.1)" handshake certs-rsa \
		-servername admission.webhooks.svc -verify_ip 127.0.0.1
else
	ok "handshake: openssl s_server starts with the RSA pair" false
fi
stop_server

# -- refusing to overwrite --------------------------------------------------
cp certs/ca.crt ca.before
example 'dsguard certs --out certs'
ok "again: exits 2 when the files exist" rc_is 2
ok "again: says which file exists and how to replace it" err_has "certs/ca.crt already exists; --force"
ok "again: prints nothing on stdout" stdout_empty
unchanged() { cmp -s ca.before certs/ca.crt; }
ok "again: leaves the files alone" unchanged
example 'dsguard certs --out certs --force > ca-bundle.txt'
ok "--force: exits 0" rc_is 0
ok "--force: replaces the files" fails unchanged
ok "--force: the new caBundle decodes to the new ca.crt" bundle_is_ca
ok "--force: tls.key keeps mode 0600" mode_is certs/tls.key 600
ok "--force: the new pair verifies" verifies certs

# -- checking ---------------------------------------------------------------
example 'dsguard certs --check certs/tls.crt --key certs/tls.key'
ok "check: a fresh certificate and its key exit 0" rc_is 0
ok "check: prints the subject" out_has "^subject: *CN=dsguard.dsguard.svc,O=dsguard$"
ok "check: prints the SANs" \
	out_has "^SANs: *DNS:dsguard, DNS:dsguard.dsguard, DNS:dsguard.dsguard.svc, DNS:dsguard.dsguard.svc.cluster.local$"
not_after_matches() {
	want=$(date -u -d "$(openssl x509 -in certs/tls.crt -noout -enddate | cut -d= -f2)" +%Y-%m-%dT%H:%M:%SZ)
	out_has "^not after: *$want$"
}
ok "check: prints not-after as openssl reads it" not_after_matches
ok "check: says the key matches" out_has "^key: *certs/tls.key matches$"
example 'dsguard certs --check certs/tls.crt --key certs/ca.key'
ok "check --key: another key exits 1" rc_is 1
ok "check --key: says the key does not match" err_has "certs/ca.key: not the key of the certificate in certs/tls.crt"
example 'dsguard certs --check certs-rsa/tls.crt --warn-days 100'
ok "check: a 90-day certificate with --warn-days 100 exits 1" rc_is 1
ok "check: says when it expires" err_has "expires on .*, within --warn-days 100"
example 'dsguard certs --out short --days 1 > /dev/null'
ok "check: a 1-day certificate is made" rc_is 0
example 'dsguard certs --check short/tls.crt --warn-days 5'
ok "check: a certificate expiring within --warn-days exits 1" rc_is 1
example 'dsguard certs --check short/tls.crt --warn-days 0'
ok "check: --warn-days 0 fails only expired certificates" rc_is 0
make_expired() { # an EC certificate that expired in 2020, made by openssl ca
	mkdir old && cd old || return 1
	: >index.txt
	printf '[ca]\ndefault_ca = old\n[old]\ndatabase = index.txt\nnew_certs_dir = .\ndefault_md = sha256\npolicy = any\nrand_serial = yes\n[any]\ncommonName = supplied\n' >ca.cnf
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tls.key -out tls.csr \
		-subj /CN=old 2>/dev/null &&
		openssl ca -batch -notext -config ca.cnf -selfsign -keyfile tls.key -in tls.csr -out tls.crt \
			-startdate 20200101000000Z -enddate 20200201000000Z >/dev/null 2>&1
	rc=$?
	cd .. && return $rc
}
if make_expired; then
	example 'dsguard certs --check old/tls.crt --warn-days 0'
	ok "check: an expired certificate exits 1" rc_is 1
	ok "check: says it expired" err_has "old/tls.crt expired on 2020-02-01T00:00:00Z"
	ok "check: prints its not-after" out_has "^not after: *2020-02-01T00:00:00Z$"
else
	ok "check: openssl ca makes an expired certificate" false
fi
example 'dsguard certs --check certs/ca.crt'
ok "check: works on the CA certificate too" rc_is 0
ok "check: the CA has no SANs" out_has "^SANs: *none$"
example 'dsguard certs --check missing.crt'
ok "check: a missing file exits 2" rc_is 2
ok "check: says why" err_has "missing.crt: cannot open: No such file or directory"
example 'dsguard certs --check certs/tls.key'
ok "check: a file that is not a certificate exits 2" rc_is 2
ok "check: gives the OpenSSL reason" err_has "certs/tls.key: no PEM certificate: error:.*no start line"
example 'dsguard certs --check certs/tls.crt --key missing.key'
ok "check --key: an unreadable key exits 2" rc_is 2

# -- usage errors -----------------------------------------------------------
# usage_error MESSAGE CMDLINE: exits 2, nothing on stdout, MESSAGE on stderr.
usage_error() {
	example "$2"
	rc_is 2 && stdout_empty && err_has "$1" && err_has "Run 'dsguard certs --help'"
}
ok "usage: no --out and no --check" usage_error "say --out DIR" 'dsguard certs'
ok "usage: --days 0" usage_error "days needs a whole number from 1 to 3650, not '0'" 'dsguard certs --out u --days 0'
ok "usage: --days 3651" usage_error "not '3651'" 'dsguard certs --out u --days 3651'
ok "usage: --days abc" usage_error "not 'abc'" 'dsguard certs --out u --days abc'
ok "usage: --days -1" usage_error "not '-1'" 'dsguard certs --out u --days -1'
ok "usage: --service Bad" usage_error "service 'Bad' is not a DNS label" 'dsguard certs --out u --service Bad'
ok "usage: --namespace a.b" usage_error "namespace 'a.b' is not a DNS label" 'dsguard certs --out u --namespace a.b'
ok "usage: --host a_b" usage_error "host 'a_b' is neither an IP address nor a DNS name" \
	'dsguard certs --out u --host a_b'
ok "usage: --out ''" usage_error "--out needs a directory" "dsguard certs --out ''"
ok "usage: --out and --check" usage_error "--out does not go with --check" \
	'dsguard certs --out u --check certs/tls.crt'
ok "usage: --warn-days without --check" usage_error "--warn-days does not go with --out" \
	'dsguard certs --out u --warn-days 3'
ok "usage: --warn-days 3651" usage_error "warn-days needs a whole number from 0 to 3650" \
	'dsguard certs --check certs/tls.crt --warn-days 3651'
ok "usage: an operand" usage_error "unexpected argument 'extra'" 'dsguard certs --out u extra'
ok "usage: an unknown option" usage_error "unknown option '--bogus'" 'dsguard certs --bogus'
ok "usage: --out without its value" usage_error "needs a value" 'dsguard certs --out'
no_u() { [ ! -e u ]; }
ok "usage: nothing was written" no_u

# -- help -------------------------------------------------------------------
example 'dsguard certs --help'
ok "--help: exits 0" rc_is 0
ok "--help: prints the usage" out_has "^Usage: dsguard certs --out DIR"
help_lists_options() {
	for o in out service namespace host days rsa force check key warn-days; do out_has "^ *--$o" || return 1; done
}
ok "--help: lists every option" help_lists_options

# -- under valgrind ---------------------------------------------------------
clean_run() {
	valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
		"$DSGUARD_BIN" "$@" >/dev/null 2>valgrind.err
	[ $? -ne 99 ] || { sed 's/^/# /' valgrind.err | head -40; return 1; }
}
if [ -n "${DSGUARD_SANITIZE:-}" ] || ! command -v valgrind >/dev/null; then
	skip "valgrind: make and check are clean" "sanitizer build or no valgrind"
else
	ok "valgrind: making an RSA set is clean" clean_run certs --out vg --rsa --host 10.1.2.3
	ok "valgrind: checking with a key is clean" clean_run certs --check vg/tls.crt --key vg/ca.key
	ok "valgrind: a refusal is clean" clean_run certs --out vg
	ok "valgrind: a usage error is clean" clean_run certs --out vg --host a_b
fi

# -- the docs run here as written ---------------------------------------------
documented() {
	missing=0
	awk '/^```/ { in_sh = ($0 == "```sh"); next } in_sh && /^dsguard certs/' "$repo/docs/certs.md" \
		>documented.txt
	[ -s documented.txt ] || return 1
	while IFS= read -r line; do
		grep -qxF -- "$line" examples.run || { echo "# not run by this test: $line"; missing=1; }
	done <documented.txt
	[ "$missing" -eq 0 ]
}
ok "docs/certs.md: every 'dsguard certs' example is run by this test" documented
tap_done
