#!/bin/sh
# A [[worker]] for the crash harness (tests/crash/run_crash.py): it crashes
# after a while, and it holds a lock while it runs, so that a second copy
# running at the same time (a daemon that lost track of the first across a
# SIGKILL and started another) is seen and written down.
#
#   crashy-worker.sh LOCK LOG SECONDS EXIT_CODE
#
# The lock is on fd 9, which `sleep` inherits: it is held until the whole
# process group is gone.
exec 9>>"$1"
if ! flock -n 9; then
  echo "dup $$" >>"$2"
  exit 1
fi
echo "start $$" >>"$2"
sleep "$3"
exit "$4"
