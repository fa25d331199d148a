# shellcheck shell=bash disable=SC2034  # the variables set here are read by the scenarios
# Shared by the benchmark scenarios (sourced by bench/run.sh): the test PKI, the configurations,
# starting and stopping broker B (what IoT Hub would be), the system under test (edgehubd, or
# mosquitto A bridging to B: the baseline) and the load generator.
#
# Pinning: the system under test runs on CPU $SUT_CPU, broker B and the load generator on
# $LOAD_CPU, so that the SUT's CPU time is not inflated by competing with its own load.
# Expects: EDGEHUBD, EDGEHUBCTL, LOADGEN (binaries) and WORK (a scratch directory).

SUT_CPU=${SUT_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
HUB_HOST=hub.azure-devices.net
GW_HOST=gw.test.local
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# 32 bytes, base64: the SAS key of every benchmark device and of the gateway.
DEVICE_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=

die() { echo "bench: $*" >&2; exit 1; }

# free_ports N: N distinct loopback ports nobody listens on, on one line (random, so that
# concurrent runs rarely pick the same; mosquitto and edgehubd fail loudly if one is taken).
free_ports() {
  local ports=() p
  while ((${#ports[@]} < $1)); do
    p=$((20000 + RANDOM % 30000))
    [[ " ${ports[*]} " == *" $p "* ]] && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    ports+=("$p")
  done
  echo "${ports[*]}"
}

# wait_port PORT [SECONDS]: until something accepts TCP connections on 127.0.0.1:PORT.
wait_port() {
  local deadline=$((SECONDS + ${2:-20}))
  until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}

# server_cert NAME ec|rsa: a server certificate for localhost signed by the test root CA.
server_cert() {
  local name=$1 kind=$2 root="$WORK/pki/certs/azure-iot-test-only.root.ca.cert.pem"
  local root_key="$WORK/pki/private/azure-iot-test-only.root.ca.key.pem"
  local key_args=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1)
  [[ $kind == rsa ]] && key_args=(-newkey rsa:2048)
  printf 'subjectAltName=DNS:localhost,DNS:%s,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' \
    "$GW_HOST" >"$WORK/$name.ext"
  openssl req -new "${key_args[@]}" -nodes -keyout "$WORK/$name.key" -subj /CN=localhost \
    -out "$WORK/$name.csr" 2>/dev/null
  openssl x509 -req -in "$WORK/$name.csr" -CA "$root" -CAkey "$root_key" -CAcreateserial \
    -CAserial "$WORK/root.srl" -days 2 -extfile "$WORK/$name.ext" -out "$WORK/$name.pem" 2>/dev/null
}

# setup_pki DEVICES: the demo PKI, mosquitto's certificates, and DEVICES SAS identities
# (dev-00000 ...) all with DEVICE_KEY.
setup_pki() {
  local devices=$1
  mkdir -p "$WORK"
  "$EDGEHUBCTL" certs demo --dir "$WORK/pki" --edge-name gw >/dev/null
  # An RSA Edge CA: edgehubd's server key follows the Edge CA's type (docs/pki.md).
  "$EDGEHUBCTL" certs demo --dir "$WORK/pki-rsa" --edge-name gw --rsa >/dev/null
  server_cert broker-b ec
  server_cert mosquitto-a-ec ec
  server_cert mosquitto-a-rsa rsa
  CA="$WORK/pki/certs/azure-iot-test-only.root.ca.cert.pem"
  # edgehubd's trust bundle: both demo roots (its Edge CA's, and the one broker B's chains to).
  cat "$CA" "$WORK/pki-rsa/certs/azure-iot-test-only.root.ca.cert.pem" >"$WORK/trust-bundle.pem"
  awk -v n="$devices" -v key="$DEVICE_KEY" 'BEGIN {
    for (i = 0; i < n; i++) printf "[[device]]\nid = \"dev-%05d\"\nprimary_key = \"%s\"\n\n", i, key
  }' >"$WORK/identities.toml"
  chmod 600 "$WORK/identities.toml"
}

# render TEMPLATE OUT KEY=VALUE...: a committed mosquitto configuration with its @KEY@ filled in.
render() {
  local template=$1 out=$2; shift 2
  local args=()
  for kv in "$@"; do args+=(-e "s|@${kv%%=*}@|${kv#*=}|g"); done
  sed "${args[@]}" "$template" >"$out"
}

# start_broker_b: broker B (IoT Hub's stand-in) with a TLS listener for the gateway and a plain
# one for the receiver; sets B_PID, B_TLS, B_PLAIN.
start_broker_b() {
  read -r B_TLS B_PLAIN < <(free_ports 2)
  mkdir -p "$WORK/broker-b"
  render "$BENCH_DIR/mosquitto/broker-b.conf" "$WORK/broker-b.conf" USER="$(id -un)" DIR="$WORK/broker-b" \
    TLS_PORT="$B_TLS" PLAIN_PORT="$B_PLAIN" CERT="$WORK/broker-b.pem" KEY="$WORK/broker-b.key"
  taskset -c "$LOAD_CPU" mosquitto -c "$WORK/broker-b.conf" 2>>"$WORK/broker-b.log" &
  B_PID=$!
  wait_port "$B_PLAIN" || die "broker B did not start: $(cat "$WORK/broker-b.log")"
}

# restart_broker_b: B again on the same ports, with the sessions it saved (after an outage).
restart_broker_b() {
  taskset -c "$LOAD_CPU" mosquitto -c "$WORK/broker-b.conf" 2>>"$WORK/broker-b.log" &
  B_PID=$!
  wait_port "$B_PLAIN" || die "broker B did not restart: $(tail -5 "$WORK/broker-b.log")"
}

stop_pid() {  # stop_pid PID: SIGTERM and wait (only the processes this script started)
  [[ -n ${1:-} ]] || return 0
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# start_mosquitto_a ec|rsa: the baseline gateway, bridging devices/# to B; sets SUT_PID,
# SUT_PORT, SUT_ARGS (the load generator's options for it).
start_mosquitto_a() {
  read -r SUT_PORT < <(free_ports 1)
  render "$BENCH_DIR/mosquitto/bridge-a.conf" "$WORK/bridge-a.conf" USER="$(id -un)" \
    PORT="$SUT_PORT" CERT="$WORK/mosquitto-a-$1.pem" KEY="$WORK/mosquitto-a-$1.key" \
    B_TLS_PORT="$B_TLS" CA="$CA"
  taskset -c "$SUT_CPU" mosquitto -c "$WORK/bridge-a.conf" 2>>"$WORK/bridge-a.log" &
  SUT_PID=$!
  wait_port "$SUT_PORT" || die "mosquitto A did not start: $(cat "$WORK/bridge-a.log")"
  SUT_ARGS=(--target "127.0.0.1:$SUT_PORT" --ca "$CA" --sni localhost)
  SUT_STATE=""
}

# start_edgehubd ROUTE [ec|rsa]: the system under test with one route into $upstream, upstream
# over MQTT to B, its server key from the demo PKI's EC (default) or RSA Edge CA; sets SUT_PID,
# SUT_PORT (MQTT), SUT_AMQP_PORT, SUT_ARGS, SUT_STATE (its store directory).
start_edgehubd() {
  local route=$1 pki="$WORK/pki" https metrics
  [[ ${2:-ec} == rsa ]] && pki="$WORK/pki-rsa"
  local ca="$pki/certs/azure-iot-test-only.root.ca.cert.pem"
  read -r SUT_PORT SUT_AMQP_PORT https metrics < <(free_ports 4)
  SUT_STATE="$WORK/state-$SUT_PORT"
  mkdir -p "$SUT_STATE"
  chmod 700 "$SUT_STATE"
  cat >"$WORK/edgehubd.toml" <<TOML
hostname = "$GW_HOST"
trust_bundle_cert = "file://$WORK/trust-bundle.pem"
parent_hostname = "localhost"

[provisioning]
source = "manual"
connection_string = "HostName=$HUB_HOST:$B_TLS;DeviceId=gw;SharedAccessKey=$DEVICE_KEY"
edgehub_module_key = "$DEVICE_KEY"

[edge_ca]
cert = "file://$pki/certs/iot-edge-device-ca-gw-full-chain.cert.pem"
pk = "file://$pki/private/iot-edge-device-ca-gw.key.pem"

[gateway]
device_id = "gw"
iothub_hostname = "$HUB_HOST"
state_dir = "file://$SUT_STATE"
identities = "file://$WORK/identities.toml"
metrics = "127.0.0.1:$metrics"
upstream_protocol = "mqtt"

[gateway.limits]
max_connections = 20000
max_connections_per_listener = 20000

[gateway.listen]
mqtt = "127.0.0.1:$SUT_PORT"
amqp = "127.0.0.1:$SUT_AMQP_PORT"
https = "127.0.0.1:$https"

[gateway.routes]
bench = "$route"
TOML
  taskset -c "$SUT_CPU" "$EDGEHUBD" --config "$WORK/edgehubd.toml" --log-target stderr \
    --log-level warn 2>>"$WORK/edgehubd.log" &
  SUT_PID=$!
  wait_port "$SUT_PORT" || die "edgehubd did not start: $(tail -20 "$WORK/edgehubd.log")"
  SUT_ARGS=(--target "127.0.0.1:$SUT_PORT" --ca "$ca" --sni "$GW_HOST" --key "$DEVICE_KEY"
            --hub "$HUB_HOST")
}

stop_sut() { stop_pid "$SUT_PID"; SUT_PID=""; }

# start_sut edgehubd|mosquitto [ROUTE|KEYTYPE]
start_sut() {
  case $1 in
    edgehubd) start_edgehubd "${2:-FROM /messages/* INTO \$upstream}" ;;
    mosquitto) start_mosquitto_a "${2:-ec}" ;;
  esac
}

# loadgen MODE ARGS...: the load generator pinned next to B; its key=value output on stdout,
# its stderr in $WORK/loadgen.log.
loadgen() {
  taskset -c "$LOAD_CPU" "$LOADGEN" "$@" 2>>"$WORK/loadgen.log"
}

# cpu_us PID: the user + system CPU time of a process so far, in µs.
cpu_us() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.0f", ($12 + $13) * 1e6 / hz }' \
    "/proc/$1/stat"
}

# kv NAME < OUTPUT: the value of NAME in key=value lines.
kv() { sed -n "s/^$1=//p" | head -1; }
