# deps.sh - sourced by scripts/demo and scripts/test: the Debian packages
# certgw needs, installed only when missing (idempotent, no-op when present).

CERTGW_BUILD_PKGS="gcc make cmake pkg-config libssl-dev libevent-dev \
libcurl4-openssl-dev libjansson-dev libhiredis-dev libsqlite3-dev \
libc-ares-dev openssl curl ca-certificates python3"
CERTGW_TEST_PKGS="libcmocka-dev clang libclang-rt-14-dev sqlite3 \
python3-cryptography python3-dnslib python3-aiosmtpd redis-server redis-tools \
certbot lego scep certmonger"

# ensure_pkgs PKG...: apt-get install the packages that are not installed.
ensure_pkgs() {
	missing=""
	for p in "$@"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q "install ok installed"; then
			missing="$missing $p"
		fi
	done
	[ -z "$missing" ] && return 0
	echo "==> installing Debian packages:$missing"
	SUDO=""
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null 2>&1 || {
			echo "error: need root (or sudo) to install:$missing" >&2
			return 1
		}
		SUDO=sudo
	fi
	# Only refresh the package lists when an install fails without it.
	# shellcheck disable=SC2086
	if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends $missing; then
		$SUDO apt-get update -q
		$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		    --no-install-recommends $missing
	fi
}
