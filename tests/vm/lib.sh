# shellcheck shell=bash
# tests/vm/lib.sh: helpers for VM scenarios (sourced in the guest).
#
#   . "$VM_LIB"            # set by run-scenario; or . "$REPO/tests/vm/lib.sh"
#
# Environment from run-scenario: REPO BUILD SRIOVD SRIOVCTL VM_OUT PF RP VM_VFS.
#
# Reporting:  pass MSG | fail MSG | skip MSG | check MSG CMD... | assert_eq EXP ACT MSG
#             finish   (prints "N passed, N failed" and exits 1 if anything failed;
#                       also run automatically when the scenario exits)
# SR-IOV:     enable_vfs N [PF] | disable_vfs [PF] | count_virtfn [PF] | vf_addr INDEX [PF]
#             sysfs_write FILE VALUE (sets SYSFS_ERR to bash's error message on failure)
#             bind_vfio BDF (prints the IOMMU group) | iommu_group BDF | driver_of BDF
# Waiting:    wait_for [-t SECONDS] CMD...   (bounded; default $VM_WAIT_TIMEOUT or 30 s)
# Daemon:     start_sriovd [EXTRA ARGS...] | stop_sriovd | ctl ARGS... (sriovctl on the socket)
# Errors:     inject ARGS  e.g. `inject rp1 UNSUP` = vm-qmp 'pcie_aer_inject_error rp1 UNSUP'
#             aer_count FILE [BDF]  (a number from an aer_* file of BDF, default $RP)

: "${PF:=0000:01:00.0}"
: "${VM_OUT:=/out}"
: "${VM_WAIT_TIMEOUT:=30}"
: "${SRIOVD_SOCKET:=/run/sriovd/sriovd.sock}"
: "${SRIOVD_STATE_DIR:=/run/sriovd-state}"
SYSFS_PCI=/sys/bus/pci/devices

VM_PASSED=0
VM_FAILED=0
VM_SKIPPED=0
VM_FINISHED=0
SRIOVD_PID=

# ---------------------------------------------------------------- reporting
pass() { VM_PASSED=$((VM_PASSED + 1)); echo "PASS: $*"; }
fail() { VM_FAILED=$((VM_FAILED + 1)); echo "FAIL: $*"; }
skip() { VM_SKIPPED=$((VM_SKIPPED + 1)); echo "SKIP: $*"; }
note() { echo "---- $*"; }

# check MSG CMD...: pass if CMD succeeds.
check() {
    local msg=$1; shift
    if "$@"; then pass "$msg"; else fail "$msg (command: $*)"; fi
}

# assert_eq EXPECTED ACTUAL [MSG]
assert_eq() {
    local exp=$1 act=$2 msg=${3:-value}
    if [ "$exp" = "$act" ]; then
        pass "$msg = '$act'"
    else
        fail "$msg: expected '$exp', got '$act'"
    fi
}

# assert_match REGEX ACTUAL [MSG]
assert_match() {
    local re=$1 act=$2 msg=${3:-value}
    if [[ "$act" =~ $re ]]; then
        pass "$msg matches /$re/"
    else
        fail "$msg: '$act' does not match /$re/"
    fi
}

finish() {
    [ "$VM_FINISHED" = 1 ] && return
    VM_FINISHED=1
    stop_sriovd >/dev/null 2>&1
    if [ "$VM_SKIPPED" -gt 0 ]; then
        echo "$VM_PASSED passed, $VM_FAILED failed, $VM_SKIPPED skipped"
    else
        echo "$VM_PASSED passed, $VM_FAILED failed"
    fi
    [ "$VM_FAILED" -eq 0 ] || exit 1
}

_vm_on_exit() {
    local rc=$?
    if [ "$VM_FINISHED" != 1 ]; then
        [ "$rc" -ne 0 ] && fail "scenario exited early with status $rc"
        finish
    fi
    [ "$VM_FAILED" -eq 0 ] || exit 1
    exit "$rc"
}
trap _vm_on_exit EXIT

# ---------------------------------------------------------------- waiting
# wait_for [-t SECONDS] CMD...: run CMD every 0.1 s until it succeeds.
wait_for() {
    local t=$VM_WAIT_TIMEOUT
    if [ "${1:-}" = -t ]; then t=$2; shift 2; fi
    local deadline=$((SECONDS + t))
    while ! "$@"; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "wait_for: timed out after ${t}s: $*" >&2
            return 1
        fi
        sleep 0.1
    done
}

# ---------------------------------------------------------------- sysfs
# sysfs_write FILE VALUE: write like `echo VALUE > FILE`.  On failure returns 1
# and leaves bash's message (e.g. "...: write error: Numerical result out of
# range") in SYSFS_ERR.
sysfs_write() {
    local file=$1 value=$2
    SYSFS_ERR=$( { echo "$value" > "$file"; } 2>&1 )
    [ -z "$SYSFS_ERR" ]
}

enable_vfs() {
    local n=$1 pf=${2:-$PF}
    sysfs_write "$SYSFS_PCI/$pf/sriov_numvfs" "$n"
}

disable_vfs() { enable_vfs 0 "${1:-$PF}"; }

count_virtfn() {
    local pf=${1:-$PF} n=0 l
    for l in "$SYSFS_PCI/$pf"/virtfn*; do
        [ -L "$l" ] && n=$((n + 1))
    done
    echo "$n"
}

# vf_addr INDEX [PF]: address of VF INDEX (0-based, as in virtfnINDEX)
vf_addr() {
    local l
    l=$(readlink "$SYSFS_PCI/${2:-$PF}/virtfn$1") || return 1
    basename "$l"
}

driver_of() {
    local l
    l=$(readlink "$SYSFS_PCI/$1/driver" 2>/dev/null) || { echo none; return 0; }
    basename "$l"
}

iommu_group() {
    local l
    l=$(readlink "$SYSFS_PCI/$1/iommu_group" 2>/dev/null) || return 1
    basename "$l"
}

# bind_vfio BDF: bind to vfio-pci with driver_override; prints the IOMMU group.
# driver_override is set first, so that whichever probe comes next picks
# vfio-pci; then, until bound (bounded by $VM_WAIT_TIMEOUT): unbind another
# driver, or ask drivers_probe.  This also covers a fresh NVMe VF whose nvme
# probe is still failing asynchronously (bound to nvme for a moment, then not).
bind_vfio() {
    local bdf=$1 cur deadline=$((SECONDS + VM_WAIT_TIMEOUT))
    modprobe vfio-pci || return 1
    sysfs_write "$SYSFS_PCI/$bdf/driver_override" vfio-pci || return 1
    while :; do
        cur=$(driver_of "$bdf")
        case $cur in
            vfio-pci) break ;;
            none) sysfs_write /sys/bus/pci/drivers_probe "$bdf" ;;
            *) sysfs_write "$SYSFS_PCI/$bdf/driver/unbind" "$bdf" ;;
        esac
        [ "$(driver_of "$bdf")" = vfio-pci ] && break
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "bind_vfio: $bdf still bound to '$cur' ($SYSFS_ERR)" >&2
            return 1
        fi
        sleep 0.1
    done
    iommu_group "$bdf"
}

# aer_count FILE [BDF]: the number in an aer_* file; for the aer_dev_* files
# (lines "NAME COUNT") the TOTAL_* line.
aer_count() {
    local f=$SYSFS_PCI/${2:-$RP}/$1
    [ -r "$f" ] || { echo 0; return 1; }
    awk 'NF == 1 { v = $1 } $1 ~ /^TOTAL_/ { v = $2 } END { print v + 0 }' "$f"
}

# ---------------------------------------------------------------- QEMU monitor
# inject ARGS: pcie_aer_inject_error ARGS through the host's QMP connection.
inject() {
    if [ "${1:-}" = pcie_aer_inject_error ]; then shift; fi
    vm-qmp "pcie_aer_inject_error $*"
}

# ---------------------------------------------------------------- sriovd
start_sriovd() {
    if [ ! -x "${SRIOVD:-}" ]; then
        echo "start_sriovd: no sriovd at '${SRIOVD:-}'" >&2
        return 1
    fi
    mkdir -p "$(dirname "$SRIOVD_SOCKET")" "$SRIOVD_STATE_DIR"
    rm -f "$SRIOVD_SOCKET"
    "$SRIOVD" --uevent-source kernel --socket "$SRIOVD_SOCKET" \
        --state-dir "$SRIOVD_STATE_DIR" "$@" > "${SRIOVD_LOG:-/run/sriovd.log}" 2>&1 &
    SRIOVD_PID=$!
    wait_for -t "${SRIOVD_START_TIMEOUT:-20}" _sriovd_ready
    if ! kill -0 "$SRIOVD_PID" 2>/dev/null || [ ! -S "$SRIOVD_SOCKET" ]; then
        echo "start_sriovd: sriovd is not listening on $SRIOVD_SOCKET; its log:" >&2
        cat "${SRIOVD_LOG:-/run/sriovd.log}" >&2
        stop_sriovd
        return 1
    fi
}

# True once the socket exists or sriovd has exited (then stop waiting at once).
_sriovd_ready() {
    ! kill -0 "$SRIOVD_PID" 2>/dev/null || [ -S "$SRIOVD_SOCKET" ]
}

stop_sriovd() {
    [ -n "$SRIOVD_PID" ] || return 0
    kill -TERM "$SRIOVD_PID" 2>/dev/null
    local deadline=$((SECONDS + 10))
    while kill -0 "$SRIOVD_PID" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
        sleep 0.1
    done
    kill -KILL "$SRIOVD_PID" 2>/dev/null
    wait "$SRIOVD_PID" 2>/dev/null
    local rc=$?
    SRIOVD_PID=
    # 143: ended by our SIGTERM, the normal way out.
    [ "$rc" -eq 143 ] && rc=0
    return "$rc"
}

# ctl ARGS...: sriovctl against the daemon started by start_sriovd.
ctl() { "$SRIOVCTL" --socket "$SRIOVD_SOCKET" "$@"; }
