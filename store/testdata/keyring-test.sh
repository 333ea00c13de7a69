#!/bin/sh
# Runs the store's keyring tests against a real Secret Service: a private
# D-Bus session with gnome-keyring-daemon in it, its login keyring created
# in a temporary directory and unlocked with a throwaway password. Works as
# root with no display. AUTHLOOP_KEYRING_TEST=1 makes the tests fail, not
# skip, if the keyring does not answer.
#
# Needs: apt-get install gnome-keyring dbus-x11 (dbus-run-session comes
# with dbus). Extra arguments go to `go test`.
set -eu
cd "$(dirname "$0")/../.."

for tool in dbus-run-session gnome-keyring-daemon; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "keyring-test: $tool is missing: apt-get install gnome-keyring dbus-x11" >&2
		exit 1
	fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A fresh keyring directory, so an old login keyring with another
# password cannot stay locked.
export XDG_DATA_HOME="$tmp/data" XDG_CONFIG_HOME="$tmp/config" XDG_CACHE_HOME="$tmp/cache"
mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME"
export AUTHLOOP_KEYRING_TEST=1
GO=${GO:-go}
export GO

exec dbus-run-session -- sh -c '
	# --unlock reads the password on stdin, creates the login keyring with
	# it if there is none, unlocks it, and starts the daemon in the
	# background of this session.
	printf %s authloop-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null
	"$GO" test -race -count=1 -run "Keyring|Default|Probe" "$@" ./store
' keyring-test "$@"
