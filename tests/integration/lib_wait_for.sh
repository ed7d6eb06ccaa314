#!/usr/bin/env bash
# it_wait_for's failure message (lib.sh): with IT_WAIT_SHOW, the output of
# that command at the failure, i.e. what the last attempt saw (a $(cat FILE)
# in the description ran before the wait: "shadowctl status:  after 10 s").
# No mount: the helper alone, in a subshell that fails as a test would.
. "$(dirname "$0")/lib.sh"
T=$(it_tmpdir lib_wait_for)
attempt() { # writes what it saw, never succeeds
  echo "attempt $((++n))" >"$T/out"
  return 1
}
n=0
msg=$( (IT_WAIT_SHOW='cat "$T/out"' it_wait_for "never ready" 1 attempt) 2>&1) &&
  it_fail "it_wait_for succeeded on a command that always fails"
[[ "$msg" =~ ^"FAIL: never ready after 1 s: attempt "([0-9]+)$ ]] ||
  it_fail "the failure message does not show the last attempt's output: $msg"
[ "${BASH_REMATCH[1]}" -ge 10 ] || it_fail "the output shown is not the last attempt's: $msg"
# Unset, the message is as before.
msg=$( (it_wait_for "never ready" 1 false) 2>&1)
[ "$msg" = "FAIL: never ready after 1 s" ] || it_fail "without IT_WAIT_SHOW: $msg"
echo PASS
