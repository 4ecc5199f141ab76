#!/usr/bin/env bats
# Every man page is clean mdoc: `mandoc -T lint -W warning` prints
# nothing (no warnings, errors or unsupported requests).  Pages are read
# from $ECOM_SRCDIR/man.  Needs mandoc.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

setup() {
	SRCDIR=${ECOM_SRCDIR:-$BATS_TEST_DIRNAME/../..}
	MANDIR=$SRCDIR/man
	command -v mandoc >/dev/null || fail "mandoc not found: install the Debian package mandoc"
}

assert_lint_clean() {
	local page=$MANDIR/$1
	[[ -f "$page" ]] || fail "no page $page"
	run mandoc -T lint -W warning "$page"
	assert_success
	assert_output ''
}

@test "ecom-produce.1 passes mandoc lint without warnings" {
	assert_lint_clean ecom-produce.1
}

@test "ecom-consume.1 passes mandoc lint without warnings" {
	assert_lint_clean ecom-consume.1
}

@test "ecom-persist.1 passes mandoc lint without warnings" {
	assert_lint_clean ecom-persist.1
}

@test "ecom-reconcile.1 passes mandoc lint without warnings" {
	assert_lint_clean ecom-reconcile.1
}

@test "ecom-bench.1 passes mandoc lint without warnings" {
	assert_lint_clean ecom-bench.1
}

@test "ecom.yaml.5 passes mandoc lint without warnings" {
	assert_lint_clean ecom.yaml.5
}

@test "ecom.7 passes mandoc lint without warnings" {
	assert_lint_clean ecom.7
}

@test "every page in man/ is one of the seven that are linted and installed" {
	local page name extra=()
	for page in "$MANDIR"/*.[1-9]; do
		name=${page##*/}
		case $name in
		ecom-produce.1 | ecom-consume.1 | ecom-persist.1 | ecom-reconcile.1 | ecom-bench.1 | ecom.yaml.5 | ecom.7) ;;
		*) extra+=("$name") ;;
		esac
	done
	((${#extra[@]} == 0)) || fail "pages not linted here (add them, and to dist_man_MANS): ${extra[*]}"
}
