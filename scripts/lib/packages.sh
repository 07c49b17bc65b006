# Sourced by scripts/setup, scripts/setup-example and scripts/setup-tests: installs Debian
# packages that are missing, saying which and why, without starting any system service.
#   need PACKAGE WHY CHECK...   queue PACKAGE (for WHY) unless the command CHECK succeeds
#   install_needed NAME         install the queue with apt-get (as root), or say what to run

queued=()
reasons=()

need() {
    local package=$1 why=$2
    shift 2
    if "$@" >/dev/null 2>&1; then
        return 0
    fi
    queued+=("$package")
    reasons+=("$package ($why)")
}

have_command() { command -v "$1" || [ -x "/usr/sbin/$1" ]; }

install_needed() {
    local name=$1
    if [ ${#queued[@]} -eq 0 ]; then
        return 0
    fi
    echo "$name: missing: ${reasons[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "$name: install them as root, e.g.: sudo apt-get install -y ${queued[*]}" >&2
        echo "$name: (or run this script as root: sudo $0)" >&2
        exit 1
    fi
    if ! command -v apt-get >/dev/null; then
        echo "$name: this script knows only apt-get: install ${queued[*]} with your package manager." >&2
        exit 1
    fi
    # The tests and the example start their own throwaway servers: keep the packages from
    # creating a system-wide PostgreSQL cluster or starting any service.
    if [[ " ${queued[*]} " == *" postgresql "* ]]; then
        mkdir -p /etc/postgresql-common
        [ -e /etc/postgresql-common/createcluster.conf ] ||
            echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
    fi
    export DEBIAN_FRONTEND=noninteractive
    local policy=/usr/sbin/policy-rc.d made_policy=false
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy"
        chmod 755 "$policy"
        made_policy=true
    fi
    echo "$name: apt-get update"
    apt-get update -qq
    for package in "${queued[@]}"; do
        echo "$name: installing $package"
        apt-get install -y -qq --no-install-recommends "$package" >/dev/null
    done
    $made_policy && rm -f "$policy"
    echo "$name: installed ${queued[*]}"
    queued=()
    reasons=()
}

require_cargo() {
    if ! command -v cargo >/dev/null; then
        echo "$1: cargo is not installed: install Rust 1.95 or newer from https://rustup.rs, then run this again." >&2
        exit 1
    fi
}
