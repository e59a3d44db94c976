#!/bin/bash
# Issue 11 on the real kernel: the metrics follow an enable, an injected AER error, the
# kernel's failed recovery and sriovd's own; the NFD feature file follows them too; an
# edit of the configuration file is applied live (inotify), a broken one is refused and
# shows in the metrics. The TCP listener answers only GET /metrics and /healthz.
# shellcheck source=tests/vm/lib.sh
. "${VM_LIB:-$REPO/tests/vm/lib.sh}"

FLEET=/run/fleet
CONF=$FLEET/sriovd.conf
NFD=$FLEET/features.d/sriovd
PORT=9808
mkdir -p "$FLEET/features.d"
ip link set lo up 2>/dev/null || true

write_conf() { printf '%s' "$1" > "$CONF.tmp" && mv "$CONF.tmp" "$CONF"; }
daemon_section="[daemon]
metrics-listen = 127.0.0.1:$PORT
nfd-features-file = $NFD
nfd-expiry = 60
"
write_conf "${daemon_section}[pf \"$PF\"]
num-vfs = 2
"

metrics() { curl -s --unix-socket "$SRIOVD_SOCKET" http://localhost/metrics; }
# metric NAME 'LABELS' -> the value of the one sample whose labels start with LABELS
metric() { metrics | grep -E "^$1\{$2[,}]" | head -1 | awk '{print $2}'; }
metric_is() { [ "$(metric "$1" "$2")" = "$3" ]; }
label() { sed -n "s|^sriovd.io/$1=||p" "$NFD" 2>/dev/null; }
label_is() { [ "$(label "$1")" = "$2" ]; }
P="pf=\"$PF\""
H="hierarchy=\"$RP\""
NFDPF=pci-$(echo "$PF" | tr : -)

start_sriovd --log-level debug --config "$CONF" || { fail "sriovd did not start"; finish; }
pass "sriovd started"

note "1. the configured enable, in the metrics and the labels"
wait_for -t 60 metric_is sriovd_pf_enumerated_vfs "$P" 2 && pass "metrics: 2 VFs enumerated" ||
    fail "enumerated: $(metric sriovd_pf_enumerated_vfs "$P")"
assert_eq 2 "$(count_virtfn)" "the kernel has 2 VFs"
assert_eq 2 "$(metric sriovd_pf_requested_vfs "$P")" "requested"
assert_eq "${VM_VFS:-4}" "$(metric sriovd_pf_total_vfs "$P")" "total (sriov_totalvfs)"
assert_eq 0 "$(metric sriovd_pf_bound_vfs "$P")" "bound: NVMe VF probes fail without a namespace"
# the VFs are enumerated before the operation settles: its result comes after
wait_for -t 30 metric_is sriovd_pf_enablement_result "$P,result=\"partial\"" 1 &&
    pass "enablement result: partial" || fail "result: $(metrics | grep '^sriovd_pf_enablement_result.* 1$')"
assert_eq 1 "$(metric sriovd_operations_total 'kind="enable",result="partial"')" "one partial enable counted"
assert_eq 0 "$(metric sriovd_hierarchy_kernel_can_recover "$H")" "driverless VFs: the kernel cannot recover"
out=$(metrics | promtool check metrics 2>&1) && [ -z "$out" ] && pass "promtool check metrics: clean" ||
    fail "promtool: $out"
wait_for -t 10 label_is "$NFDPF.vfs" 2 && pass "NFD: $NFDPF.vfs=2" || fail "NFD file: $(cat "$NFD" 2>&1)"
assert_eq false "$(label ready)" "NFD: not ready (VFs without a driver)"
assert_eq false "$(label kernel-can-recover)" "NFD: kernel-can-recover"
head -1 "$NFD" | grep -qE '^# \+expiry-time=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' && pass "NFD expiry header" ||
    fail "header: $(head -1 "$NFD")"

note "2. TCP: only GET /metrics and /healthz"
assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")" "GET /healthz"
assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/metrics")" "GET /metrics"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"num_vfs":0}' "http://127.0.0.1:$PORT/v1/devices/$PF/sriov")
# 413: the listener takes no request body at all; 404: no such path there
assert_match '^(404|413)$' "$code" "POST an enable over TCP is refused"
assert_eq 404 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/v1/reload")" "POST /v1/reload over TCP"
assert_eq 2 "$(count_virtfn)" "still 2 VFs"

note "3. an AER error the kernel cannot recover (driverless VFs); sriovd recovers the PF"
inject rp1 UNSUP >/dev/null
wait_for -t 60 metric_is sriovd_kernel_recoveries_total "$H,result=\"failed\"" 1 &&
    pass "metrics: the kernel's recovery failed" ||
    fail "kernel recoveries: $(metrics | grep sriovd_kernel_recoveries_total)"
wait_for -t 120 metric_is sriovd_recoveries_total "$P,result=\"succeeded\"" 1 &&
    pass "metrics: sriovd's recovery succeeded" || fail "recoveries: $(metrics | grep sriovd_recoveries_total)"
assert_eq 1 "$(metric sriovd_kernel_recoveries_total "$H,result=\"begun\"")" "one kernel recovery begun"
assert_eq 1 "$(metric sriovd_aer_errors_total "pci=\"$RP\",severity=\"nonfatal\"")" "the root port's AER counter"
assert_eq 1 "$(metric sriovd_aer_rootport_errors_total "pci=\"$RP\",severity=\"nonfatal\"")" "root port total"
n=$(metrics | grep -E '^sriovd_error_uevents_total\{' | awk '{s += $2} END {print s + 0}')
[ "$n" -ge 2 ] && pass "error uevents counted ($n)" || fail "error uevents: $n"
wait_for -t 30 metric_is sriovd_pf_enumerated_vfs "$P" 2 && pass "2 VFs again after the recovery" ||
    fail "after recovery: $(metric sriovd_pf_enumerated_vfs "$P")"
assert_eq 0 "$(metric sriovd_hierarchy_recovering "$H")" "the hierarchy is no longer recovering"

note "4. live configuration: an edit is applied, a broken file refused"
write_conf "${daemon_section}[pf \"$PF\"]
num-vfs = 1
"
one() { [ "$(count_virtfn)" = 1 ]; }
wait_for -t 60 one && pass "the edit was applied without a reload: 1 VF" || fail "VFs: $(count_virtfn)"
assert_eq 1 "$(metric sriovd_config_reloads_total 'result="success"')" "one successful reload"
wait_for -t 10 label_is "$NFDPF.vfs" 1 && pass "NFD: $NFDPF.vfs=1" || fail "NFD file: $(cat "$NFD")"
write_conf "${daemon_section}[pf \"$PF\"]
num-vfs = 2
recovery = sometimes
"
unlabelled() { metrics | sed -n "s/^$1 //p"; }
refused() { [ "$(unlabelled sriovd_config_last_reload_successful)" = 0 ]; }
wait_for -t 30 refused && pass "the broken file is refused (sriovd_config_last_reload_successful 0)" ||
    fail "last reload: $(unlabelled sriovd_config_last_reload_successful)"
assert_eq false "$(ctl config --json | jq -r .last_reload.ok)" "GET /v1/config says so"
grep -q "$CONF:7: key 'recovery'" /run/sriovd.log && pass "the log names $CONF:7 and the key" ||
    fail "no FILE:LINE in the log: $(grep -i recovery /run/sriovd.log | tail -3)"
sleep 1
assert_eq 1 "$(count_virtfn)" "the running configuration stays: 1 VF"

if [ "$VM_FAILED" -gt 0 ]; then
    echo "---- metrics"
    metrics | grep -v '^#' | grep -v ' 0$' | head -80
    echo "---- sriovd log"
    tail -60 /run/sriovd.log
fi
finish
