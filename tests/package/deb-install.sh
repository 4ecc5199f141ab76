#!/usr/bin/env bash
# deb-install.sh: build the Debian package from a clean copy of the source
# tree, check it with lintian, install it, try what it installed, and
# remove it again.  Prints TAP; exits 1 if any check failed, 2 on bad
# usage.
#
#   tests/package/deb-install.sh [SRCDIR]
#
# SRCDIR defaults to the tree this script is in.  The copy holds the files
# git knows (tracked, plus untracked ones not ignored), or without git the
# tree less its build outputs, so leftovers of an in-tree build never reach
# the package.  Build tools and build dependencies that are missing are
# installed with apt-get (root only).  The package is installed on this
# machine with dpkg and purged at the end, also when a check fails.
#
# Environment: ECOM_DEB_KEEP=1 keeps the build directory (its path is
# printed).
set -uo pipefail

readonly PACKAGE=ecom
readonly COMMANDS=(ecom-produce ecom-consume ecom-persist ecom-reconcile ecom-bench)
readonly CONFFILE=/etc/ecom/ecom.yaml

usage() {
	echo "usage: deb-install.sh [SRCDIR]" >&2
	exit 2
}

(($# <= 1)) || usage
case ${1:-} in -h | --help) usage ;; esac
SRCDIR=$(cd "${1:-$(dirname "${BASH_SOURCE[0]}")/../..}" && pwd) || usage
[[ -f "$SRCDIR/debian/control" ]] || {
	echo "deb-install.sh: no debian/control in '$SRCDIR'" >&2
	exit 2
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ecom-deb.XXXXXX")
readonly WORK
test_number=0
failures=0
installed_by_us=0

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if ((installed_by_us)) && dpkg-query -W -f='${Status}' "$PACKAGE" 2>/dev/null | grep -q installed; then
		dpkg -P "$PACKAGE" >/dev/null 2>&1 || true
	fi
	if [[ "${ECOM_DEB_KEEP:-0}" == 1 ]]; then
		echo "# build directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

ok() {
	test_number=$((test_number + 1))
	echo "ok $test_number - $*"
}

not_ok() {
	test_number=$((test_number + 1))
	failures=$((failures + 1))
	echo "not ok $test_number - $*"
}

# check DESCRIPTION COMMAND...: one TAP line; the command's output becomes
# diagnostics when it fails.
check() {
	local description=$1 out
	shift
	if out=$("$@" 2>&1); then
		ok "$description"
	else
		not_ok "$description"
		printf '%s\n' "$out" | tail -n 20 | sed 's/^/#   /'
	fi
}

diag() {
	printf '%s\n' "$@" | sed 's/^/# /'
}

# Nothing after this point can be checked once one of these fails.
bail_out() {
	echo "1..$test_number"
	echo "Bail out! $*"
	exit 1
}

apt_install() {
	(($# > 0)) || return 0
	if [[ $(id -u) -ne 0 ]]; then
		diag "missing packages, and not root to install them: $*"
		return 1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" \
		>"$WORK/apt.log" 2>&1 || {
		tail -n 20 "$WORK/apt.log" | sed 's/^/#   /'
		return 1
	}
}

# ---- tools and build dependencies -------------------------------------

need=()
for tool in dpkg-buildpackage:dpkg-dev dh:debhelper lintian:lintian man:man-db; do
	command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
done
command -v git >/dev/null || command -v rsync >/dev/null || need+=(rsync)
apt_install "${need[@]}" || bail_out "cannot install the tools: ${need[*]}"

# ---- a clean copy of the tree -----------------------------------------

copy_tree() {
	local dest=$1
	mkdir -p "$dest"
	if git -C "$SRCDIR" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		# Tracked files, and new files that are not ignored: what a commit
		# would hold, without build outputs.
		# shellcheck disable=SC2016 # $f is the inner shell's
		(cd "$SRCDIR" && git ls-files -z --cached --others --exclude-standard |
			xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
			tar --null -T - -cf -) | tar -xf - -C "$dest"
	else
		rsync -a --include='*.c' --include='*.h' \
			--exclude=.git --exclude='*.o' --exclude='*.a' --exclude='.deps/' \
			--exclude='.dirstamp' --exclude='*.log' --exclude='*.trs' \
			--exclude=autom4te.cache/ --exclude=Makefile --exclude=Makefile.in \
			--exclude=configure --exclude=config.status --exclude=aclocal.m4 \
			--exclude='/ecom-*' --exclude='/tests/*/test-*' \
			--exclude=debian/ecom/ --exclude=debian/.debhelper/ \
			--exclude=debian/files --exclude='debian/*.substvars' \
			--exclude=debian/debhelper-build-stamp "$SRCDIR/" "$dest/"
	fi
}

BUILD=$WORK/$PACKAGE
if copy_tree "$BUILD" && [[ -f "$BUILD/debian/rules" ]]; then
	ok "a clean copy of $SRCDIR is in $BUILD"
else
	not_ok "a clean copy of $SRCDIR is in $BUILD"
	bail_out "no source to build"
fi

missing=$(cd "$BUILD" && dpkg-checkbuilddeps 2>&1 | sed -n 's/.*Unmet build dependencies: //p')
if [[ -n "$missing" ]]; then
	# "foo (>= 1), bar | baz": install foo and bar.
	read -r -a missing_packages <<<"$(echo "$missing" | sed -E 's/\([^)]*\)//g; s/\|[^ ]*//g; s/:any//g')"
	apt_install "${missing_packages[@]}" || bail_out "cannot install the build dependencies: $missing"
fi

# ---- build --------------------------------------------------------------

# The build must not see any service: integration tests skip without these.
unset ECOM_KAFKA_BROKERS ECOM_MONGODB_URI ECOM_POSTGRES_URI ECOM_REQUIRE_STACK

if (cd "$BUILD" && dpkg-buildpackage -b -us -uc) >"$WORK/build.log" 2>&1; then
	ok "dpkg-buildpackage -b builds the package"
else
	not_ok "dpkg-buildpackage -b builds the package"
	grep -E '^(FAIL|ERROR|XPASS):' "$WORK/build.log" | head -n 20 | sed 's/^/#   /'
	tail -n 40 "$WORK/build.log" | sed 's/^/#   /'
	bail_out "no package to test"
fi

# What dh_auto_test ran: the summaries of Automake's test driver.
summary=$(grep -E '^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):' "$WORK/build.log")
if [[ -n "$summary" ]]; then
	diag "dh_auto_test (make check) during the build:"
	printf '%s\n' "$summary" | sed 's/^# /#   /'
	total=$(printf '%s\n' "$summary" | awk '$2 == "TOTAL:" { n += $3 } END { print n + 0 }')
	passed=$(printf '%s\n' "$summary" | awk '$2 == "PASS:" { n += $3 } END { print n + 0 }')
	if ((total > 0 && passed > 0)); then
		ok "dh_auto_test ran the test suite during the build ($passed of $total passed, the rest skipped)"
	else
		not_ok "dh_auto_test ran the test suite during the build ($passed of $total passed)"
	fi
else
	not_ok "dh_auto_test ran the test suite during the build (no test summary in the build log)"
fi

shopt -s nullglob
debs=("$WORK"/"${PACKAGE}"_*.deb)
shopt -u nullglob
((${#debs[@]} == 1)) || bail_out "expected one .deb in $WORK, found ${#debs[@]}"
DEB=${debs[0]}
diag "built $(basename "$DEB")"

# ---- lintian ------------------------------------------------------------

lintian --display-info --no-tag-display-limit "$DEB" >"$WORK/lintian.log" 2>&1
lintian_status=$?
errors=$(grep -c '^E: ' "$WORK/lintian.log")
warnings=$(grep -c '^W: ' "$WORK/lintian.log")
infos=$(grep -c '^I: ' "$WORK/lintian.log")
diag "lintian: $errors errors, $warnings warnings, $infos informational tags"
grep -E '^[EWI]: ' "$WORK/lintian.log" | sed 's/^/#   /'
if ((errors == 0 && lintian_status == 0)); then
	ok "lintian reports no errors for $(basename "$DEB")"
else
	not_ok "lintian reports no errors for $(basename "$DEB")"
fi

# ---- the package's contents ---------------------------------------------

contents=$(dpkg-deb -c "$DEB")
for path in \
	./usr/share/man/man1/ecom-produce.1.gz ./usr/share/man/man1/ecom-consume.1.gz \
	./usr/share/man/man1/ecom-persist.1.gz ./usr/share/man/man1/ecom-reconcile.1.gz \
	./usr/share/man/man1/ecom-bench.1.gz ./usr/share/man/man5/ecom.yaml.5.gz \
	./usr/share/man/man7/ecom.7.gz ./usr/share/doc/ecom/copyright ".$CONFFILE" \
	./usr/share/ecom/scripts/mongo-java-server/Launcher.java \
	./usr/share/ecom/scripts/mongo-java-server/pom.xml ./usr/share/ecom/scripts/devstack.sh \
	./usr/share/ecom/scripts/devstack/common.sh ./usr/share/ecom/scripts/devstack/kafka.sh \
	./usr/share/ecom/scripts/devstack/mongodb.sh ./usr/share/ecom/scripts/devstack/postgresql.sh \
	./usr/share/ecom/scripts/devstack/cluster.sh ./usr/share/ecom/scripts/devstack/commands.sh; do
	if grep -qE " ${path//./\\.}\$" <<<"$contents"; then
		ok "the package holds $path"
	else
		not_ok "the package holds $path"
	fi
done

control_dir=$WORK/control
if dpkg-deb -e "$DEB" "$control_dir" && grep -qx "$CONFFILE" "$control_dir/conffiles" 2>/dev/null; then
	ok "the package declares $CONFFILE a conffile"
else
	not_ok "the package declares $CONFFILE a conffile"
	diag "conffiles: $(cat "$control_dir/conffiles" 2>/dev/null || echo none)"
fi

# ---- install ------------------------------------------------------------

installed_by_us=1
if dpkg -i "$DEB" >"$WORK/install.log" 2>&1; then
	ok "dpkg -i installs the package"
elif apt_install -f; then
	# dpkg -i left it unconfigured for want of dependencies: apt-get -f
	# install brings them and configures it.
	ok "dpkg -i installs the package (dependencies from apt-get -f install)"
else
	not_ok "dpkg -i installs the package"
	tail -n 20 "$WORK/install.log" | sed 's/^/#   /'
	bail_out "the package is not installed"
fi

for cmd in "${COMMANDS[@]}"; do
	check "$cmd is installed as /usr/bin/$cmd" test -x "/usr/bin/$cmd"
	for flag in --version --help; do
		# shellcheck disable=SC2016 # the inner shell's arguments
		check "/usr/bin/$cmd $flag exits 0 and prints something" \
			sh -c '"$1" "$2" >"$3" && test -s "$3"' sh "/usr/bin/$cmd" "$flag" "$WORK/out"
	done
done

if grep -qs '^path-exclude=/usr/share/man' /etc/dpkg/dpkg.cfg /etc/dpkg/dpkg.cfg.d/*; then
	diag "dpkg is configured to leave out /usr/share/man here; man -w cannot find the pages"
fi
for page in ecom-produce ecom-consume ecom-persist ecom-reconcile ecom-bench ecom.yaml "7 ecom"; do
	# shellcheck disable=SC2086 # "7 ecom" is a section and a name
	check "man -w $page finds the installed page" sh -c 'man -w "$@" | grep -q "^/usr/share/man/"' sh $page
done

# devstack.sh sources its parts from devstack/ beside its real location:
# the installed copy, and a symlink to it, find them.  A usage error is
# reached only once they are loaded, and starts nothing.
DEVSTACK=/usr/share/$PACKAGE/scripts/devstack.sh
ln -s "$DEVSTACK" "$WORK/devstack"
for run_as in "$DEVSTACK" "$WORK/devstack"; do
	# shellcheck disable=SC2016 # the inner shell's arguments
	check "$run_as --help prints devstack.sh's usage" \
		sh -c '"$1" --help | grep -q "^usage: devstack.sh up "' sh "$run_as"
	# shellcheck disable=SC2016 # the inner shell's arguments
	check "$run_as up --brokers 0 is refused with exit 2 and starts nothing" \
		sh -c 'out=$(ECOM_DEVSTACK_DIR="$2" "$1" up --brokers 0 2>&1); test $? -eq 2 &&
			test "$out" = "devstack: --brokers '\''0'\'': expected a number of brokers from 1 to 9" &&
			test ! -e "$2"' sh "$run_as" "$WORK/no-stack"
done

conffiles=$(dpkg-query -W -f='${Conffiles}' "$PACKAGE" 2>/dev/null)
if grep -q "^ $CONFFILE " <<<"$conffiles"; then
	ok "dpkg records $CONFFILE as a conffile of the installed package"
else
	not_ok "dpkg records $CONFFILE as a conffile of the installed package"
	diag "Conffiles: ${conffiles:-none}"
fi

# ---- remove and purge ---------------------------------------------------

check "dpkg -r removes the package" dpkg -r "$PACKAGE"
for cmd in "${COMMANDS[@]}"; do
	check "$cmd is gone after dpkg -r" test ! -e "/usr/bin/$cmd"
done
check "dpkg -r keeps the conffile $CONFFILE" test -e "$CONFFILE"
check "dpkg -P purges the package" dpkg -P "$PACKAGE"
check "dpkg -P removes the conffile $CONFFILE" test ! -e "$CONFFILE"
if dpkg-query -W -f='${Status}' "$PACKAGE" 2>/dev/null | grep -q installed; then
	not_ok "the package is no longer known to dpkg as installed"
else
	ok "the package is no longer known to dpkg as installed"
	installed_by_us=0
fi

echo "1..$test_number"
if ((failures > 0)); then
	echo "# $failures of $test_number checks failed"
	exit 1
fi
echo "# all $test_number checks passed"
exit 0
