# shellcheck shell=bash
# devstack/secure.sh: the secure stack (`up --secure`): a throwaway CA and
# a server certificate for "localhost", random passwords, and the client
# settings that go with them (an ECOM config file, a kcat config), all in
# the state dir, the secrets mode 0600.
# Sourced by devstack.sh after common.sh.
#
# The certificate names only DNS:localhost, no IP address: clients connect
# by that name, and one that connects by 127.0.0.1 gets a host name
# mismatch, which the tests of refused connections need.

readonly TLS_DIR=$STATE_DIR/tls
readonly SECURE_FILE=$STATE_DIR/secure
readonly SECRETS_FILE=$STATE_DIR/secrets.env
readonly CLIENT_CONFIG=$STATE_DIR/ecom.yaml
readonly KCAT_CONFIG=$STATE_DIR/kcat.conf
readonly SECURE_HOST=localhost
readonly KAFKA_SCRAM_MECHANISM=SCRAM-SHA-512
readonly KAFKA_USER=ecom
# FerretDB's user on a secure stack (mongo-java-server has no users)
readonly MONGO_USER=ecom

# 1 when this stack is (to be) secure; set by secure_choose
SECURE=0
# what up asks for: 1 (--secure or ECOM_DEVSTACK_SECURE=1), 0
# (ECOM_DEVSTACK_SECURE=0), '' (neither: keep the stack's mode)
WANT_SECURE=
KAFKA_PASSWORD=
PG_PASSWORD=
KEYSTORE_PASSWORD=
MONGO_PASSWORD=

secure_env_arg() {
	case ${ECOM_DEVSTACK_SECURE:-} in
	'') ;;
	1 | yes | true) WANT_SECURE=${WANT_SECURE:-1} ;;
	0 | no | false) WANT_SECURE=${WANT_SECURE:-0} ;;
	*) usage_error "ECOM_DEVSTACK_SECURE='$ECOM_DEVSTACK_SECURE': expected 1 or 0" ;;
	esac
}

# The mode of the stack on disk decides; a different one asked for must
# wait for `down`, as a different broker count does.
secure_choose() {
	local recorded=0
	[[ -e $SECURE_FILE ]] && recorded=1
	if [[ -z $WANT_SECURE ]]; then
		SECURE=$recorded
		return 0
	fi
	if [[ -e $SERVICES_FILE ]] && ((WANT_SECURE != recorded)); then
		if ((recorded)); then
			die "$STATE_DIR holds a secure stack: run 'devstack.sh down' first to start a plain one"
		fi
		die "$STATE_DIR holds a plain stack: run 'devstack.sh down' first to start a secure one"
	fi
	SECURE=$WANT_SECURE
}

secure_load() { # the secure stack's passwords into the shell
	SECURE=0
	[[ -e $SECURE_FILE ]] || return 0
	SECURE=1
	[[ -r $SECRETS_FILE ]] || die "secure stack without $SECRETS_FILE: run 'devstack.sh down' and 'up --secure' again"
	local k v
	while IFS='=' read -r k v; do
		case $k in
		KAFKA_PASSWORD) KAFKA_PASSWORD=$v ;;
		PG_PASSWORD) PG_PASSWORD=$v ;;
		KEYSTORE_PASSWORD) KEYSTORE_PASSWORD=$v ;;
		MONGO_PASSWORD) MONGO_PASSWORD=$v ;;
		esac
	done <"$SECRETS_FILE"
}

random_password() { # 24 letters and digits: safe in URIs, JAAS and YAML unquoted
	local pw=''
	while ((${#pw} < 24)); do
		pw+=$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
	done
	printf '%s' "${pw:0:24}"
}

# The CA, the server's key and certificate (PEM, and PKCS12 for the JVMs),
# the passwords and the client settings; made once per stack.
secure_prepare() {
	((SECURE)) || return 0
	need openssl openssl
	printf 'secure\n' >"$SECURE_FILE"
	if [[ ! -s $SECRETS_FILE ]]; then
		(
			umask 077
			printf 'KAFKA_PASSWORD=%s\nPG_PASSWORD=%s\nKEYSTORE_PASSWORD=%s\nMONGO_PASSWORD=%s\n' \
				"$(random_password)" "$(random_password)" "$(random_password)" "$(random_password)" >"$SECRETS_FILE.tmp"
		)
		mv -f "$SECRETS_FILE.tmp" "$SECRETS_FILE"
	elif ! grep -q '^MONGO_PASSWORD=' "$SECRETS_FILE"; then
		# a stack made before FerretDB had a password
		printf 'MONGO_PASSWORD=%s\n' "$(random_password)" >>"$SECRETS_FILE"
	fi
	secure_load
	[[ -s $TLS_DIR/server.p12 ]] || secure_make_certs
	# (a stack made before Kafka had its listener with an expired one)
	[[ -s $TLS_DIR/expired.p12 ]] || secure_make_expired
	secure_write_client_configs
}

secure_make_certs() {
	local log=$TLS_DIR/openssl.log
	rm -rf "$TLS_DIR"
	mkdir -p "$TLS_DIR"
	chmod 0755 "$TLS_DIR"
	msg "making a throwaway CA and a certificate for $SECURE_HOST in $TLS_DIR"
	secure_keystore_pass
	if ! (
		set -e
		cd "$TLS_DIR"
		umask 077
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout ca.key -out ca.crt -days 30 -subj "/CN=ecom devstack CA $(date -u +%Y%m%dT%H%M%SZ)" \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout server.key -out server.csr -subj "/CN=$SECURE_HOST"
		printf 'subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' \
			"$SECURE_HOST" >server.ext
		openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
			-days 30 -out server.crt -extfile server.ext
		openssl pkcs12 -export -in server.crt -inkey server.key -certfile ca.crt -name server \
			-out server.p12 -passout "file:$SECRETS_FILE.keystore"
	) >"$log" 2>&1 || ! [[ -s $TLS_DIR/server.p12 ]]; then
		rm -f "$SECRETS_FILE.keystore"
		show_log_tail "$log"
		die "making the certificates failed (log: $log)"
	fi
	rm -f "$SECRETS_FILE.keystore"
	# the CA and the certificate are public; the keys stay 0600
	chmod 0644 "$TLS_DIR/ca.crt" "$TLS_DIR/server.crt"
	secure_make_expired
}

# The server's certificate again (same key, names and CA), but valid from
# two days ago to yesterday: for Kafka's listener that serves an expired
# certificate and the tests that swap it in for PostgreSQL's.  openssl
# x509 takes no start date before 3.4; openssl ca does, with its files.
secure_make_expired() {
	local log=$TLS_DIR/openssl-expired.log
	secure_keystore_pass
	if ! (
		set -e
		cd "$TLS_DIR"
		umask 077
		rm -rf expired-ca
		mkdir expired-ca
		: >expired-ca/index.txt
		printf '[ca]\ndefault_ca = expired\n[expired]\ndatabase = expired-ca/index.txt\nnew_certs_dir = expired-ca\nserial = expired-ca/serial\ndefault_md = sha256\npolicy = any\nunique_subject = no\n[any]\ncommonName = supplied\n' >expired-ca/ca.cnf
		openssl rand -hex 16 >expired-ca/serial
		openssl ca -batch -config expired-ca/ca.cnf -notext -cert ca.crt -keyfile ca.key \
			-in server.csr -out expired.crt -extfile server.ext \
			-startdate "$(date -u -d '2 days ago' +%Y%m%d%H%M%SZ)" -enddate "$(date -u -d '1 day ago' +%Y%m%d%H%M%SZ)"
		rm -rf expired-ca
		openssl pkcs12 -export -in expired.crt -inkey server.key -certfile ca.crt -name server \
			-out expired.p12 -passout "file:$SECRETS_FILE.keystore"
	) >"$log" 2>&1 || ! [[ -s $TLS_DIR/expired.p12 ]]; then
		rm -f "$SECRETS_FILE.keystore"
		show_log_tail "$log"
		die "making the expired certificate failed (log: $log)"
	fi
	rm -f "$SECRETS_FILE.keystore"
	chmod 0644 "$TLS_DIR/expired.crt"
}

# The keystore password in a file for openssl's -passout, so that it is
# never on a command line; secure_make_certs removes it
secure_keystore_pass() {
	(umask 077 && printf '%s\n' "$KEYSTORE_PASSWORD" >"$SECRETS_FILE.keystore")
}

# ECOM's config file and kcat's, with the Kafka credentials (0600); the
# store URIs go in env's export line.
secure_write_client_configs() {
	(
		umask 077
		cat >"$CLIENT_CONFIG.tmp" <<EOF
# written by scripts/devstack.sh up --secure: the Kafka client settings of
# the secure dev stack in $STATE_DIR (its passwords: keep this file 0600)
kafka:
  security.protocol: SASL_SSL
  sasl.mechanism: $KAFKA_SCRAM_MECHANISM
  sasl.username: $KAFKA_USER
  sasl.password: $KAFKA_PASSWORD
  ssl.ca.location: $TLS_DIR/ca.crt
EOF
		cat >"$KCAT_CONFIG.tmp" <<EOF
security.protocol=SASL_SSL
sasl.mechanisms=$KAFKA_SCRAM_MECHANISM
sasl.username=$KAFKA_USER
sasl.password=$KAFKA_PASSWORD
ssl.ca.location=$TLS_DIR/ca.crt
EOF
	)
	mv -f "$CLIENT_CONFIG.tmp" "$CLIENT_CONFIG"
	mv -f "$KCAT_CONFIG.tmp" "$KCAT_CONFIG"
}

# kcat's options for this stack's Kafka
kcat_security_args() {
	KCAT_SEC=()
	if ((SECURE)); then KCAT_SEC=(-F "$KCAT_CONFIG"); fi
}

# the host name clients use: the certificate's on a secure stack
stack_host() { if ((SECURE)); then printf '%s' "$SECURE_HOST"; else printf '127.0.0.1'; fi; }

secure_remove() {
	rm -rf "$TLS_DIR"
	rm -f "$SECURE_FILE" "$SECRETS_FILE" "$SECRETS_FILE.tmp" "$SECRETS_FILE.keystore" \
		"$CLIENT_CONFIG" "$CLIENT_CONFIG.tmp" "$KCAT_CONFIG" "$KCAT_CONFIG.tmp"
}
