#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine, for trying and testing deploy/slurm/ (and CI's
# tools/ci-slurm.sh). Debian packages (slurm-wlm, munge), no systemd, no cgroups: slurmctld and
# slurmd run as root, munged as munge; process tracking through /proc (proctrack/linuxproc),
# no task plugin, no accounting; one partition `debug` holding this host.
#   tools/slurm-local.sh          install if missing, configure, start what is not running, and
#                                 wait (up to SLURM_LOCAL_TIMEOUT s, default 60) for the node idle
#   tools/slurm-local.sh stop     stop only the daemons this script started (their PIDs are in
#                                 the state file), leave any other alone
#   tools/slurm-local.sh stop PID...  only those of them (tools/ci-slurm.sh stops what it started)
#   tools/slurm-local.sh status   print what runs and what this script started
# Idempotent; run as root. Exit 0 when the node is idle, 1 when it does not come up (with the
# tail of the daemon logs), 2 on bad usage or when not root.
# Files: /etc/slurm/slurm.conf (written only if absent or written by this script before: a
# slurm.conf of anyone else is never overwritten), /etc/munge/munge.key (created if missing),
# state and logs under $SLURM_LOCAL_DIR (default /var/lib/callsim-slurm-local).
set -euo pipefail

CONF=/etc/slurm/slurm.conf
MARK="# written by callsim tools/slurm-local.sh"
DIR=${SLURM_LOCAL_DIR:-/var/lib/callsim-slurm-local}
STATE=$DIR/started # lines "daemon pid" for the daemons this script started
TIMEOUT=${SLURM_LOCAL_TIMEOUT:-60}

say() { echo "slurm-local: $*"; }
err() { echo "slurm-local: $*" >&2; }

logs_tail() {
  for f in "$DIR/slurmctld.log" "$DIR/slurmd.log" /var/log/munge/munged.log; do
    [ -f "$f" ] || continue
    echo "--- last lines of $f" >&2
    tail -n 15 "$f" >&2
  done
}

# pid_alive PID NAME: PID is running and is the program NAME (not a reused PID).
pid_alive() {
  [ -n "$1" ] && kill -0 "$1" 2>/dev/null && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]
}
pidfile_alive() { # FILE NAME: the PID in FILE is alive as NAME; prints it
  local pid
  [ -f "$1" ] || return 1
  pid=$(tr -dc 0-9 <"$1")
  pid_alive "$pid" "$2" && echo "$pid"
}
munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

record() { echo "$1 $2" >>"$STATE"; }

stop() { # [PID...]: the recorded daemons with these PIDs (default: every recorded one)
  if [ ! -s "$STATE" ]; then
    say "nothing to stop (this script started no daemon that is still recorded in $STATE)"
    rm -f "$STATE"
    return 0
  fi
  local keep name pid
  keep=$(mktemp)
  # Stop in reverse start order: slurmd, slurmctld, munged.
  tac "$STATE" | while read -r name pid; do
    if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx -- "$pid"; then
      echo "$name $pid" >>"$keep"
      continue
    fi
    if pid_alive "$pid" "$name"; then
      kill "$pid"
      for _ in $(seq 50); do pid_alive "$pid" "$name" || break; sleep 0.2; done
      if pid_alive "$pid" "$name"; then
        err "$name (pid $pid) did not stop within 10 s; sending KILL"
        kill -KILL "$pid" 2>/dev/null || true
      fi
      say "stopped $name (pid $pid)"
    else
      say "$name (pid $pid) already gone"
    fi
  done
  if [ -s "$keep" ]; then tac "$keep" >"$STATE"; else rm -f "$STATE"; fi
  rm -f "$keep"
}

status() {
  local p
  if munge_ok; then say "munged: running"; else say "munged: not running"; fi
  if p=$(pidfile_alive /run/slurmctld.pid slurmctld); then say "slurmctld: running (pid $p)"; else say "slurmctld: not running"; fi
  if p=$(pidfile_alive /run/slurmd.pid slurmd); then say "slurmd: running (pid $p)"; else say "slurmd: not running"; fi
  if [ -s "$STATE" ]; then say "started by this script: $(tr '\n' ' ' <"$STATE")"; fi
  command -v sinfo >/dev/null && sinfo -N 2>&1 || true
}

case "${1:-start}" in
  start) ;;
  stop) shift; stop "$@"; exit 0 ;;
  status) status; exit 0 ;;
  *) err "usage: tools/slurm-local.sh [start | stop [PID...] | status]"; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { err "must run as root (it installs packages and starts daemons)"; exit 2; }
mkdir -p "$DIR"

# 1. Packages, only if missing (apt-get update only then).
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null ||
  ! command -v munged >/dev/null; then
  say "installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

# 2. munge: key and daemon.
if [ ! -s /etc/munge/munge.key ]; then
  say "creating /etc/munge/munge.key"
  mkdir -p /etc/munge
  if command -v mungekey >/dev/null; then
    mungekey --create --keyfile=/etc/munge/munge.key
  else
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
fi
chown munge:munge /etc/munge/munge.key
chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/lib/munge /var/log/munge
chown munge:munge /run/munge /var/lib/munge /var/log/munge
chmod 755 /run/munge
if munge_ok; then
  say "munged already running"
else
  rm -f /run/munge/munged.pid
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 50); do munge_ok && break; sleep 0.1; done
  munge_ok || { err "munged did not start"; logs_tail; exit 1; }
  pid=$(tr -dc 0-9 </run/munge/munged.pid)
  record munged "$pid"
  say "started munged (pid $pid)"
fi

# 3. slurm.conf for this host.
host=$(hostname -s)
cpus=$(nproc)
mem_mb=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 }' /proc/meminfo)
# RealMemory must not exceed what slurmd finds, or the node is drained: claim half, at most 4 GB.
real_mem=$((mem_mb / 2))
[ "$real_mem" -le 4096 ] || real_mem=4096
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd
conf_new=$(
  cat <<CONF
$MARK: a one-node cluster for testing deploy/slurm/. Safe to delete.
ClusterName=callsim-local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
MinJobAge=300
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$real_mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
)
conf_changed=0
if [ -f "$CONF" ] && ! head -n 1 "$CONF" | grep -qF "$MARK"; then
  err "$CONF exists and was not written by this script; not touching it (move it away to use this script)"
  exit 1
fi
if [ ! -f "$CONF" ] || [ "$(cat "$CONF")" != "$conf_new" ]; then
  printf '%s\n' "$conf_new" >"$CONF"
  conf_changed=1
  say "wrote $CONF (host $host, $cpus CPUs, RealMemory $real_mem MB)"
fi

# 4. Daemons, each only if not running.
if pid=$(pidfile_alive /run/slurmctld.pid slurmctld); then
  say "slurmctld already running (pid $pid)"
  [ "$conf_changed" = 0 ] || { say "configuration changed: scontrol reconfigure"; scontrol reconfigure || true; }
else
  # -c: start from a clean state. The saved state holds only earlier runs of this test cluster,
  # and would carry a node's old drain (e.g. "Low RealMemory" from another configuration).
  /usr/sbin/slurmctld -c
  for _ in $(seq 50); do pid=$(pidfile_alive /run/slurmctld.pid slurmctld) && break; sleep 0.1; done
  [ -n "${pid:-}" ] && pid_alive "$pid" slurmctld || { err "slurmctld did not start"; logs_tail; exit 1; }
  record slurmctld "$pid"
  say "started slurmctld (pid $pid)"
fi
if pid=$(pidfile_alive /run/slurmd.pid slurmd); then
  say "slurmd already running (pid $pid)"
else
  pid=
  /usr/sbin/slurmd
  for _ in $(seq 50); do pid=$(pidfile_alive /run/slurmd.pid slurmd) && break; sleep 0.1; done
  [ -n "${pid:-}" ] && pid_alive "$pid" slurmd || { err "slurmd did not start"; logs_tail; exit 1; }
  record slurmd "$pid"
  say "started slurmd (pid $pid)"
fi

# 5. Wait for the node to be idle (or busy with someone's job: up either way).
deadline=$((SECONDS + TIMEOUT))
state=
while [ $SECONDS -lt $deadline ]; do
  state=$(sinfo -h -N -n "$host" -o '%T' 2>/dev/null | head -n 1 || true)
  case "$state" in
    idle | mixed | allocated | completing) say "node $host is $state (partition debug)"; exit 0 ;;
  esac
  sleep 1
done
err "node $host not idle after ${TIMEOUT} s (state '${state:-no answer from slurmctld}')"
sinfo -N -l >&2 2>&1 || true
scontrol show node "$host" 2>&1 | grep -Ei 'State|Reason' >&2 || true
logs_tail
exit 1
