# Sourced by the start/stop scripts of the test servers.
#
# pid_is PID WORD... — true when PID is a live process (not a zombie) whose command line
# contains every WORD. A pid file outlives its process: after a reboot, a killed container or
# a /tmp carried over to another machine, its number may belong to an unrelated process,
# which must be neither trusted as our server nor signalled.
pid_is() {
  local pid=$1 cmdline word
  shift
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/stat" ] || return 1
  [ "$(sed 's/.*) //' "/proc/$pid/stat" | cut -d' ' -f1)" != Z ] || return 1
  # Arguments joined by spaces, with one after the last: a WORD ending in a space matches a
  # whole argument's end (":6390 " is not ":63901").
  cmdline="$( { tr '\0' ' ' < "/proc/$pid/cmdline"; } 2>/dev/null) " || return 1
  for word in "$@"; do
    [[ "$cmdline" == *"$word"* ]] || return 1
  done
}
