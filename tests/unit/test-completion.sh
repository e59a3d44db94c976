#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Tests scripts/sriovctl.bash-completion by calling _sriovctl with COMP_WORDS and
# COMP_CWORD set the way bash sets them (split at spaces and at ':'), against a
# fake sysfs and a fake sriovctl whose daemon is "up" or "down".
#
#   tests/unit/test-completion.sh [PATH-TO-BUILT-SRIOVCTL]
#
# With the built sriovctl, also checks that every command its --help lists is
# completed, and every option its 'COMMAND --help' names is offered.
# The suite runs twice: in a bare bash, and with the bash-completion package loaded
# (when it is installed). Prints "N passed, N failed"; exits 1 on any failure.

set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
script=${SRIOVCTL_COMPLETION:-$here/../../scripts/sriovctl.bash-completion}
if [[ ${1:-} != --inner ]]; then
        real_sriovctl=${1:-}
        [[ -n $real_sriovctl ]] && real_sriovctl=$(cd "$(dirname -- "$real_sriovctl")" && pwd)/$(basename -- "$real_sriovctl")
        tmp=$(mktemp -d)
        trap 'rm -rf "$tmp"' EXIT

        # Fake sysfs: two PFs, a VF, a root port; three drivers.
        sys=$tmp/sys
        mkdir -p "$sys/bus/pci/devices" "$sys/bus/pci/drivers"/{i40e,iavf,pcieport}
        for a in 0000:3b:00.0 0000:5e:00.1 0000:3b:02.0 0000:00:02.0; do
                mkdir -p "$sys/bus/pci/devices/$a"
        done
        echo 8 >"$sys/bus/pci/devices/0000:3b:00.0/sriov_totalvfs"
        echo 4 >"$sys/bus/pci/devices/0000:5e:00.1/sriov_totalvfs"

        # Fake sriovctl: help like the real one plus a command the table does not
        # know; status --json answers only when FAKE_SRIOVD=up or --socket up.sock.
        mkdir -p "$tmp/bin"
        cat >"$tmp/bin/sriovctl" <<'EOF'
#!/bin/bash
up=${FAKE_SRIOVD:-down}
[[ ${1:-} == --timeout ]] && shift 2
[[ ${1:-} == --socket ]] && { [[ $2 == */up.sock ]] && up=up; shift 2; }
case "$*" in
--help)
        printf 'Usage: sriovctl [--socket PATH] COMMAND [ARGS...]\n\nTalks to sriovd.\n\nCommands:\n'
        printf '  %-8s %-40s %s\n' status "[ADDRESS] [--json] [--all]" "Show" enable "ADDRESS --vfs N" "Set" \
                disable ADDRESS Remove lock "ADDRESS -- COMMAND" Run frobnicate "" "Frob"
        printf '\nOptions:\n  --socket PATH   the socket\n'
        exit 0 ;;
"frobnicate --help")
        echo "Usage: sriovctl frobnicate [--frob-level N] [--json]"; exit 0 ;;
"status --json")
        [[ $up == up ]] || { echo "sriovctl: sriovd is not running" >&2; exit 4; }
        echo '{"devices":[{"address":"0000:af:00.0","role":"pf","sriov":{"vfs":[{"index":0,"address":"0000:af:02.0","driver":null}]}},{"address":"0000:af:02.0","role":"vf"},{"address":"0000:00:03.0","role":"bridge"}]}'
        exit 0 ;;
esac
exit 2
EOF
        chmod +x "$tmp/bin/sriovctl"

        total_pass=0 total_fail=0
        modes=(bare)
        for f in /usr/share/bash-completion/bash_completion; do
                [[ -r $f ]] && modes+=("$f")
        done
        for mode in "${modes[@]}"; do
                out=$(env -i PATH="$tmp/bin:/usr/bin:/bin" HOME="$tmp" TERM=dumb _SRIOVCTL_SYSFS="$sys" \
                        TMPDIR="$tmp" REAL_SRIOVCTL="$real_sriovctl" \
                        bash --norc --noprofile "${BASH_SOURCE[0]}" --inner "$mode" "$script")
                echo "$out" | sed '$d'
                read -r p f <<<"$(echo "$out" | tail -n 1)"
                total_pass=$((total_pass + p))
                total_fail=$((total_fail + f))
        done
        echo "$total_pass passed, $total_fail failed"
        ((total_fail == 0))
        exit
fi

# ---- inner: runs in a clean bash ------------------------------------------------------
mode=$2
script=$3
if [[ $mode != bare ]]; then
        # shellcheck disable=SC1090
        . "$mode"
fi
# shellcheck disable=SC1090
. "$script"

pass=0 fail=0

ok() {
        pass=$((pass + 1))
}

bad() {
        fail=$((fail + 1))
        echo "FAIL [$mode]: $*"
}

# Splits a command line the way bash does for completion: at blanks, and at ':'
# (which becomes a word of its own). A trailing blank starts an empty word.
split_line() {
        local line=$1 tok rest
        COMP_WORDS=()
        for tok in $line; do
                rest=$tok
                while [[ $rest == *:* ]]; do
                        [[ -n ${rest%%:*} ]] && COMP_WORDS+=("${rest%%:*}")
                        COMP_WORDS+=(":")
                        rest=${rest#*:}
                done
                [[ -n $rest ]] && COMP_WORDS+=("$rest")
        done
        [[ $line == *" " ]] && COMP_WORDS+=("")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMP_LINE=$line
        COMP_POINT=${#line}
}

# expect LINE WORD... : the completions of LINE are exactly WORD... (any order).
expect() {
        local line=$1
        shift
        split_line "$line"
        COMPREPLY=()
        _sriovctl sriovctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
        local got want
        got=$(printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort -u | tr '\n' ' ')
        want=$(printf '%s\n' "$@" | sed '/^$/d' | sort -u | tr '\n' ' ')
        if [[ $got == "$want" ]]; then ok; else bad "'$line' gave '$got', expected '$want'"; fi
}

# expect_has LINE WORD... : the completions of LINE include every WORD.
expect_has() {
        local line=$1 w missing=""
        shift
        split_line "$line"
        COMPREPLY=()
        _sriovctl sriovctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
        for w in "$@"; do
                printf '%s\n' "${COMPREPLY[@]}" | grep -qxF -- "$w" || missing+=" $w"
        done
        if [[ -z $missing ]]; then ok; else bad "'$line' lacks:$missing (got: ${COMPREPLY[*]})"; fi
}

# Registration.
if [[ $(complete -p sriovctl 2>/dev/null) == "complete -F _sriovctl sriovctl" ]]; then ok; else
        bad "complete -p sriovctl: '$(complete -p sriovctl 2>&1)'"; fi

export FAKE_SRIOVD=down
# Commands, from the binary's --help (frobnicate is not in the table).
expect "sriovctl " status enable disable lock frobnicate
expect "sriovctl en" enable
expect "sriovctl --socket /tmp/x.sock di" disable
# Global options.
expect "sriovctl --" --socket --timeout --help --version
expect "sriovctl --t" --timeout
expect "sriovctl --timeout "
expect "sriovctl --timeout 5 di" disable
expect "sriovctl --v" --version
# Per-command options.
expect "sriovctl enable --" --vfs --all-or-nothing --timeout --json --no-wait --help
expect "sriovctl enable 0000:3b:00.0 --a" --all-or-nothing
expect "sriovctl status --" --json --all --help
expect "sriovctl disable --" --timeout --json --no-wait --help
expect "sriovctl lock 0000:3b:00.0 --sh" --shared
expect "sriovctl lock --" --shared --timeout --runtime-dir --sysfs-root --help --
expect "sriovctl events --f" --follow
expect "sriovctl events --limit "
expect "sriovctl events --limit 5 " 0000:3b:00.0 0000:5e:00.1 0000:3b:02.0 0000:00:02.0
expect "sriovctl config --" --json --help
# A command the table does not know: options from its --help.
expect "sriovctl frobnicate --" --frob-level --json

# Addresses from sysfs when the daemon is down: PFs for enable, any for status.
expect "sriovctl enable " 0000:3b:00.0 0000:5e:00.1
expect "sriovctl disable 0000:5" 5e:00.1
expect "sriovctl status " 0000:3b:00.0 0000:5e:00.1 0000:3b:02.0 0000:00:02.0
expect "sriovctl recover " 0000:3b:00.0 0000:5e:00.1
# Bash splits at ':', so what is inserted is the part after the last colon.
expect "sriovctl enable 0000:3b:" 00.0
expect "sriovctl status 0000:3b:0" 00.0 02.0
expect "sriovctl enable 0000:" 3b:00.0 5e:00.1
# Only one address.
expect "sriovctl disable 0000:3b:00.0 "
expect "sriovctl enable 0000:3b:00.0 --vfs 4 "
# --vfs: 0 up to sriov_totalvfs of the PF named.
expect "sriovctl enable 0000:5e:00.1 --vfs " 0 1 2 3 4
expect "sriovctl enable --vfs "
expect "sriovctl enable 0000:3b:00.0 --timeout "

# bind: an address, then a driver.
expect "sriovctl bind 0000:3b:02.0 " i40e iavf pcieport vfio-pci
expect "sriovctl bind 0000:3b:02.0 vf" vfio-pci
expect "sriovctl bind 0000:3b:02.0 vfio-pci "
expect "sriovctl unbind 0000:00" 00:02.0
# lock: an address, '--', then a command line.
expect "sriovctl lock 0000:3b:00.0 " --
expect_has "sriovctl lock 0000:3b:00.0 -- ech" echo
expect_has "sriovctl lock --shared 0000:3b:02.0 -- ech" echo

# The daemon answers: addresses from sriovctl status --json, not from sysfs.
FAKE_SRIOVD=up
expect "sriovctl enable " 0000:af:00.0
expect "sriovctl status " 0000:af:00.0 0000:af:02.0 0000:00:03.0
# --socket is passed on to the status query.
FAKE_SRIOVD=down
expect "sriovctl --socket /tmp/up.sock enable " 0000:af:00.0
expect "sriovctl --socket /tmp/down.sock enable " 0000:3b:00.0 0000:5e:00.1
# So is --timeout, whose value is not taken for the command.
expect "sriovctl --timeout 5 --socket /tmp/up.sock enable " 0000:af:00.0

# Colons outside COMP_WORDBREAKS (e.g. a user removed it): whole words, no trimming.
saved=$COMP_WORDBREAKS
COMP_WORDBREAKS=${COMP_WORDBREAKS//:/}
COMP_WORDS=(sriovctl enable 0000:3b)
COMP_CWORD=2
COMPREPLY=()
_sriovctl sriovctl 0000:3b enable
if [[ ${COMPREPLY[*]} == 0000:3b:00.0 ]]; then ok; else bad "no-colon-break gave '${COMPREPLY[*]}'"; fi
COMP_WORDBREAKS=$saved

# The built sriovctl: every command it lists is completed, every option it names is
# offered (catches a command or option added without updating the completion).
if [[ -n ${REAL_SRIOVCTL:-} && -x $REAL_SRIOVCTL ]]; then
        real_cmds=$("$REAL_SRIOVCTL" --help 2>/dev/null | sed -n '/^Commands:/,/^$/{/^  [a-z]/{s/^  \([a-z][a-z-]*\).*/\1/p}}')
        [[ -n $real_cmds ]] && ok || bad "no commands in '$REAL_SRIOVCTL --help'"
        COMP_WORDS=("$REAL_SRIOVCTL" "")
        COMP_CWORD=1
        COMPREPLY=()
        _sriovctl "$REAL_SRIOVCTL" "" "$REAL_SRIOVCTL"
        completed_cmds=$(printf '%s\n' "${COMPREPLY[@]}")
        for c in $real_cmds; do
                grep -qxF "$c" <<<"$completed_cmds" && ok || bad "command '$c' of the built sriovctl not completed"
                opts=$("$REAL_SRIOVCTL" "$c" --help 2>/dev/null | grep -o -- '--[a-z][a-z-]*' | sort -u)
                COMP_WORDS=("$REAL_SRIOVCTL" "$c" "--")
                COMP_CWORD=2
                COMPREPLY=()
                _sriovctl "$REAL_SRIOVCTL" "--" "$c"
                for o in $opts; do
                        printf '%s\n' "${COMPREPLY[@]}" | grep -qxF -- "$o" && ok ||
                                bad "'sriovctl $c --help' names $o, the completion does not offer it"
                done
        done
fi

echo "$pass $fail"
