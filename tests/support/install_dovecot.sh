#!/usr/bin/env bash
# Install the Debian packages the IMAP/SMTP tests need (dovecot-imapd, swaks).
#
# Idempotent: does nothing when /usr/sbin/dovecot, doveadm and swaks already exist.
# Needs root for apt-get; when not root and something is missing it says so and exits 0,
# and the tests that need the missing tool skip themselves.
# The package's own system-wide Dovecot service is kept from starting (policy-rc.d) and
# stopped if it runs anyway: the tests start private instances with their own config.
set -euo pipefail

PACKAGES=(dovecot-imapd swaks)

have_dovecot() {
    [ -x /usr/sbin/dovecot ] && command -v doveadm >/dev/null 2>&1
}

have_swaks() {
    command -v swaks >/dev/null 2>&1
}

log() {
    echo "install_dovecot: $*" >&2
}

# Stop a system-wide Dovecot started by the package (not our private test instances, which
# run with "-c <tmpdir>/dovecot.conf" and their own base_dir).
stop_system_dovecot() {
    service dovecot stop >/dev/null 2>&1 || true
    local pidfile=/run/dovecot/master.pid pid
    if [ -f "$pidfile" ]; then
        pid=$(cat "$pidfile" 2>/dev/null || true)
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            log "stopping system dovecot (pid $pid)"
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -9 "$pid" 2>/dev/null || true
        fi
    fi
}

if have_dovecot && have_swaks; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    log "dovecot-imapd and/or swaks are missing and this is not root:"
    log "  run 'sudo bash tests/support/install_dovecot.sh' (the Dovecot/SMTP tests will be skipped)"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    log "no apt-get on this machine; install dovecot-imapd and swaks by hand (tests will be skipped)"
    exit 0
fi

start=$(date +%s)

# Keep invoke-rc.d from starting the package's service during the install. An existing
# policy-rc.d (e.g. Docker's "exit 101") is left exactly as it is.
policy=/usr/sbin/policy-rc.d
created_policy=0
cleanup() {
    if [ "$created_policy" -eq 1 ]; then
        rm -f "$policy"
    fi
}
trap cleanup EXIT
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# temporary, written by tierdesk tests/support/install_dovecot.sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    created_policy=1
fi

export DEBIAN_FRONTEND=noninteractive
apt_install() {
    # Lock timeout: another apt run (e.g. a parallel setup script) must not make this fail.
    apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${PACKAGES[@]}"
}

# Only refresh the package lists when they are missing or the install cannot find the package.
if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null \
    || ! apt-cache show dovecot-imapd >/dev/null 2>&1; then
    log "apt-get update"
    apt-get update -qq
fi
log "apt-get install ${PACKAGES[*]}"
if ! apt_install >/tmp/install_dovecot.$$.log 2>&1; then
    log "install failed, retrying after apt-get update"
    apt-get update -qq
    apt_install >>/tmp/install_dovecot.$$.log 2>&1 || {
        cat /tmp/install_dovecot.$$.log >&2
        rm -f /tmp/install_dovecot.$$.log
        exit 1
    }
fi
rm -f /tmp/install_dovecot.$$.log

stop_system_dovecot

if ! have_dovecot; then
    log "dovecot still missing after install"
    exit 1
fi
log "installed ${PACKAGES[*]} in $(($(date +%s) - start)) s"
