# Sourced by the tools/ scripts: `need COMMAND PACKAGE...` makes COMMAND available, installing the
# Debian PACKAGEs with apt-get when it is missing (needs root; says what to do otherwise).
need() {
  local cmd=$1
  shift
  command -v "$cmd" >/dev/null && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "$(basename "$0"): $cmd is not installed and this is not root; install it with: apt-get install $*" >&2
    exit 1
  fi
  echo "$(basename "$0"): installing $* (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  command -v "$cmd" >/dev/null || { echo "$(basename "$0"): $cmd is still missing after installing $*" >&2; exit 1; }
}
