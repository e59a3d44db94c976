#!/bin/bash
# Issue 12 on the real kernel: sriovd killed (kill -9) at the steps of an enable and of
# its own recovery of a PF, then started again.  After every restart: the PF is on the
# bus with its driver, sriovd's counts are the kernel's (virtfn links), the desired
# count is the last one asked and drift is shown exactly, a recovery cut short is
# finished (its journal gone), no lock file is held, no temporary state file is left,
# and the next enable works.  tests/sim/test_faults.py kills at the same steps against
# the simulated kernel, where a write can be made to hang; here the kernel is real.
#
# A SIGKILL does not interrupt a sysfs store() in the kernel: the thread running it
# finishes the write and the process dies when it returns to user space.  So "killed
# while writing" means the kernel completes that write without sriovd, and nothing
# sriovd would have done after it happens.
# shellcheck source=tests/vm/lib.sh
. "${VM_LIB:-$REPO/tests/vm/lib.sh}"

LOCK_DIR=/run/sriovd/locks
SETTLE_MS=3000
sriovd_args=(--log-level debug --settle-quiet-ms "$SETTLE_MS")

start() { start_sriovd "${sriovd_args[@]}" || { fail "sriovd did not start"; finish; }; }

# kill9: SIGKILL sriovd and reap it (it dies once a write it has in the kernel returns).
kill9() {
    kill -KILL "$SRIOVD_PID" 2>/dev/null
    wait "$SRIOVD_PID" 2>/dev/null
    local rc=$?
    SRIOVD_PID=
    assert_eq 137 "$rc" "sriovd ended by SIGKILL (exit status)"
}

pfj() { ctl status "$PF" --json; }
op_state() { ctl status "$PF" --json | jq -r --argjson id "$1" '[.device.operations[]? | select(.id == $id) | .state][0] // "gone"'; }
op_is() { [ "$(op_state "$1")" = "$2" ]; }
wait_op_state() { wait_for -t 30 op_is "$1" "$2"; }

# The checks after every restart.
pf_present() { [ -e "$SYSFS_PCI/$PF" ] && [ "$(driver_of "$PF")" = nvme ]; }
sriovd_sees_kernel() {
    local j n
    j=$(pfj) || return 1
    n=$(count_virtfn)
    [ "$(jq -r '"\(.device.sriov.num_vfs) \(.device.sriov.vfs | length)"' <<<"$j")" = "$n $n" ]
}
no_recovery_running() {
    local j
    j=$(pfj) || return 1
    [ "$(jq -r '.device.recovery.last.finished // true' <<<"$j")" = true ] &&
        [ "$(jq -r '.device.operations | length' <<<"$j")" = 0 ] &&
        ! ls "$SRIOVD_STATE_DIR"/recovery-*.json >/dev/null 2>&1
}
assert_no_held_lock() {
    local f held=""
    for f in "$LOCK_DIR"/*.lock; do
        [ -e "$f" ] || continue
        flock -n -x "$f" true || held="$held $(basename "$f")"
    done
    assert_eq "" "$held" "no lock file held after the restart"
}
assert_no_temp_file() {
    assert_eq "" "$(find "$SRIOVD_STATE_DIR" -name '*.tmp' -printf '%f ' 2>/dev/null)" "no temporary state file left"
}
# reconciled EXPECTED_DESIRED [WHAT]: every check after a restart.
reconciled() {
    local want=$1 what=$2 j n
    if wait_for -t 120 pf_present; then pass "$what: the PF is on the bus, bound to nvme"
    else fail "$what: the PF is not back: $(ls "$SYSFS_PCI" | tr '\n' ' ')"; return; fi
    if wait_for -t 120 no_recovery_running; then pass "$what: nothing left running, no recovery journal"
    else fail "$what: still running: $(pfj | jq -c '{ops: .device.operations, rec: .device.recovery.last}')"; fi
    if wait_for -t 30 sriovd_sees_kernel; then pass "$what: sriovd's count is the kernel's ($(count_virtfn))"
    else fail "$what: sriovd $(pfj | jq -c '.device.sriov | {num_vfs, n: (.vfs | length)}'), kernel $(count_virtfn)"; fi
    j=$(pfj); n=$(count_virtfn)
    assert_eq "$want" "$(jq -r .device.sriov.desired_num_vfs <<<"$j")" "$what: desired count"
    assert_eq "$([ "$n" = "$want" ] && echo false || echo true)" "$(jq -r .device.sriov.drift <<<"$j")" \
        "$what: drift ($n VFs, $want desired)"
    assert_no_held_lock
    assert_no_temp_file
}
# works: the restarted daemon changes the count again (NVMe VFs: their probe fails, so
# an enable with autoprobe on is partial, exit status 3).
works() {
    local n=$1 rc
    ctl enable "$PF" --vfs "$n" >/dev/null; rc=$?
    [ "$rc" = 0 ] || [ "$rc" = 3 ] || fail "enable --vfs $n after the restart: exit status $rc"
    assert_eq "$n" "$(count_virtfn)" "enable --vfs $n after the restart"
}

start
pass "sriovd started"
assert_eq 0 "$(count_virtfn)" "no VFs at the start"

note "enable 1. killed while one enable waits for a lock file another process holds and a second is queued"
marker=/run/faults-locked
touch "$marker"
"$SRIOVCTL" lock "$PF" -- sh -c "while [ -e $marker ]; do sleep 0.1; done" &
holder=$!
wait_for -t 10 bash -c "! flock -n -x $LOCK_DIR/pf-$PF.lock true 2>/dev/null" ||
    fail "sriovctl lock did not take the PF's lock file: $(ls -l $LOCK_DIR)"
first=$(ctl enable "$PF" --vfs 2 --no-wait --json | jq -r .id)
wait_op_state "$first" waiting-for-lock-file && pass "the first enable waits for the lock file" ||
    fail "first enable: $(op_state "$first")"
second=$(ctl enable "$PF" --vfs 3 --no-wait --json | jq -r .id)
# The second waits too: behind the first in the in-process queue, or for the lock
# file itself (no in-process lock is held while waiting for a lock file).
second_waits() { case $(op_state "$second") in queued|waiting-for-lock-file) return 0 ;; *) return 1 ;; esac; }
wait_for -t 30 second_waits && pass "the second waits as well ($(op_state "$second"))" ||
    fail "second enable: $(op_state "$second")"
kill9
kill -0 "$holder" 2>/dev/null && pass "the lock holder survives sriovd" || fail "the lock holder died"
assert_eq 0 "$(count_virtfn)" "nothing was written"
rm -f "$marker"; wait "$holder"
assert_eq 0 "$?" "sriovctl lock's command ended normally"
start
reconciled 3 "restart after a kill while locking"
works 1

note "enable 2. killed while the kernel adds the VFs (the write of 3 is in the kernel)"
ctl disable "$PF" >/dev/null || fail "disable"
id=$(ctl enable "$PF" --vfs 3 --no-wait --json | jq -r .id)
# virtfn0 is created inside the write, before the kernel adds VFs 1 and 2 and returns.
deadline=$((SECONDS + 30))
while [ ! -L "$SYSFS_PCI/$PF/virtfn0" ] && [ "$SECONDS" -lt "$deadline" ]; do :; done
at=$(count_virtfn)
kill9
note "killed with $at of 3 VFs in sysfs$([ "$at" -lt 3 ] && echo ': the write was still in the kernel')"
assert_eq 3 "$(count_virtfn)" "the kernel finished the write without sriovd"
start
reconciled 3 "restart after a kill while writing"

note "enable 3. 3 -> 2 goes through 0: killed while the kernel removes the VFs"
id=$(ctl enable "$PF" --vfs 2 --no-wait --json | jq -r .id)
deadline=$((SECONDS + 30))
while [ -L "$SYSFS_PCI/$PF/virtfn2" ] && [ "$SECONDS" -lt "$deadline" ]; do :; done
kill9
note "the kernel has $(count_virtfn) VFs after the kill"
start
reconciled 2 "restart after a kill while writing the 0 of a change"
works 2

note "enable 4. killed while the enable settles (quiet window ${SETTLE_MS} ms)"
ctl disable "$PF" >/dev/null || fail "disable"
id=$(ctl enable "$PF" --vfs 2 --no-wait --json | jq -r .id)
wait_op_state "$id" settling && pass "the enable settles" || fail "enable: $(op_state "$id")"
kill9
start
reconciled 2 "restart after a kill while settling"

# The recovery's steps: sriovctl recover with 2 VFs.  sriovd records RECOVERY_STEP as it
# starts each step's write; the kill follows at once (the write may or may not have
# reached the kernel by then: both are a crash at that step).  wait-pf is not among
# them: the kernel's rescan returns only after it added the PF and bound its driver,
# so on a real kernel the PF is already there when rescan-port ends and wait-pf ends
# in the same loop iteration (the simulator, whose uevents can come later, has it).
for step in disable-vfs remove-pf rescan-port restore-vfs; do
    note "recovery: killed at step $step"
    [ "$(count_virtfn)" = 2 ] || works 2
    s=$(ctl events --json | jq -r .recorded)
    coproc FOLLOW { "$SRIOVCTL" --socket "$SRIOVD_SOCKET" events --follow --json --since "$s"; }
    ctl recover "$PF" >/dev/null 2>&1 &
    recover_pid=$!
    seen=""
    while read -r -t 60 line <&"${FOLLOW[0]}"; do
        if [[ "$line" == *RECOVERY_STEP*" $step "* ]]; then
            kill -KILL "$SRIOVD_PID"
            seen=$line
            break
        fi
    done
    if [ -n "$seen" ]; then pass "step $step reached"; else fail "step $step never reached"; fi
    kill9
    kill "$FOLLOW_PID" 2>/dev/null; wait "$recover_pid" 2>/dev/null
    note "after the kill: PF $([ -e "$SYSFS_PCI/$PF" ] && echo present || echo 'off the bus'), $(count_virtfn) VFs, journal: $(ls "$SRIOVD_STATE_DIR" | grep recovery- || echo none)"
    start
    reconciled 2 "restart after a kill at $step"
    assert_eq 2 "$(count_virtfn)" "the PF has its 2 VFs again"
done
works 1

w=$(dmesg | grep -E "WARNING|kobject_add_internal failed|BUG:" || true)
assert_eq "" "$w" "no kernel warning in dmesg"
if [ "$VM_FAILED" -gt 0 ]; then
    echo "---- sriovd log"
    tail -80 /run/sriovd.log
fi
finish
