#!/usr/bin/env bats
# One allocation policy (STYLE 11b, src/lib/ecom_alloc.h): src/ calls
# ecom_xmalloc and friends, which end the process with "out of memory",
# never a bare malloc, calloc, realloc, reallocarray, strdup or strndup
# whose result could be dereferenced unchecked.  Only ecom_alloc.c wraps
# them.  Needs nothing but grep.

bats_require_minimum_version 1.5.0

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

# Files other work is converting (or splitting) right now: each is allowed
# its bare calls until that work lands.  Remove a file once it is clean
# (`grep -nE '(^|[^_[:alnum:]])(malloc|calloc|realloc|strdup)\(' FILE`);
# the list is meant to become empty.
TEMPORARILY_ALLOWED=()

setup() {
	SRCDIR=${ECOM_SRCDIR:-$BATS_TEST_DIRNAME/../..}
}

# "file:line: text" for every bare allocation call in the C files under $1
# (paths relative to $1), ecom_alloc.c aside.
bare_allocations() {
	(cd "$1" && grep -rnE --include='*.c' --include='*.h' \
		'(^|[^_[:alnum:]])(malloc|calloc|realloc|reallocarray|strdup|strndup)[[:space:]]*\(' src |
		grep -v '^src/lib/ecom_alloc\.c:' || true)
}

# True when file $1 matches a pattern of TEMPORARILY_ALLOWED.
allowed() {
	local pattern
	for pattern in "${TEMPORARILY_ALLOWED[@]}"; do
		# shellcheck disable=SC2053 # the pattern is a glob on purpose
		[[ "$1" == $pattern ]] && return 0
	done
	return 1
}

@test "the check finds a bare allocation and passes the wrapped ones" {
	mkdir -p "$BATS_TEST_TMPDIR/src/lib"
	cat >"$BATS_TEST_TMPDIR/src/lib/sample.c" <<'C'
char *a = ecom_xstrdup(s);
void *b = ecom_xcalloc(1, 2), *c = malloc(3);
char *d = strdup(s);
my_realloc(p, 1);
C
	printf 'void *p = malloc(1);\n' >"$BATS_TEST_TMPDIR/src/lib/ecom_alloc.c"
	run bare_allocations "$BATS_TEST_TMPDIR"
	assert_output "$(printf '%s\n' \
		'src/lib/sample.c:2:void *b = ecom_xcalloc(1, 2), *c = malloc(3);' \
		'src/lib/sample.c:3:char *d = strdup(s);')"
}

@test "src/ allocates only through ecom_alloc.h" {
	local line file offending=()
	while IFS= read -r line; do
		file=${line%%:*}
		allowed "$file" || offending+=("$line")
	done < <(bare_allocations "$SRCDIR")
	((${#offending[@]} == 0)) ||
		fail "$(printf '%s\n' "bare allocations (use ecom_xmalloc and friends, ecom_alloc.h):" \
			"${offending[@]}")"
}
