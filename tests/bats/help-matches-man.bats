#!/usr/bin/env bats
# Each command's --help and its man page say the same thing (STYLE 4, 5):
# the usage lines are the SYNOPSIS, and the options --help lists are
# exactly those the page's OPTIONS section documents.  Also: the
# configuration keys the code reads are all in ecom.yaml(5) and in the
# shipped etc/ecom.yaml, which as shipped changes nothing.
#
# Commands are taken from PATH (the harness puts the build directory
# first); pages from $ECOM_SRCDIR/man.  Needs mandoc.

bats_require_minimum_version 1.5.0

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

setup() {
	SRCDIR=${ECOM_SRCDIR:-$BATS_TEST_DIRNAME/../..}
	MANDIR=$SRCDIR/man
	command -v mandoc >/dev/null || fail "mandoc not found: install the Debian package mandoc"
}

# The command on PATH, or fail saying so.
command_path() {
	command -v "$1" || fail "'$1' not found on PATH ($PATH)"
}

# -x and --long tokens in the option column of `$1 --help`: lines indented
# by two spaces ("  -g, --generate N") or six ("      --stdout"); the
# description starts after the first run of two or more spaces.
help_options() {
	"$1" --help |
		awk '/^(  |      )-/ { sub(/^ +/, ""); split($0, col, /  +/); print col[1] }' |
		grep -oE '(^|[ ,])--?[A-Za-z0-9][A-Za-z0-9-]*' |
		sed 's/^[ ,]//' | LC_ALL=C sort -u
}

# -x and --long tokens of the top-level .It lines of the page's OPTIONS
# section: ".It Fl g , Fl -generate Ar N" gives -g and --generate.
# Nested lists (.Bl inside an item) are not options.
man_options() {
	awk '
		/^\.Sh / { in_options = ($2 == "OPTIONS"); depth = 0; next }
		!in_options { next }
		/^\.Bl/ { depth++; next }
		/^\.El/ { depth--; next }
		depth == 1 && /^\.It / {
			for (i = 2; i < NF; i++)
				if ($i == "Fl")
					print "-" $(i + 1)
		}
	' "$1" | LC_ALL=C sort -u
}

# The usage lines of --help, without "usage: ", spaces squeezed.
help_usage() {
	"$1" --help | awk '
		NR == 1 { if (sub(/^usage: +/, "")) { print; next } exit }
		/^ +[^ ]/ && !/^ +-/ { sub(/^ +/, ""); print; next }
		{ exit }
	' | tr -s ' '
}

# The SYNOPSIS lines of the rendered page, wide enough not to wrap.
man_synopsis() {
	mandoc -T ascii -O width=400 "$1" | col -bx | awk '
		/^SYNOPSIS$/ { on = 1; next }
		on && /^[^ ]/ { exit }
		on && NF { sub(/^ +/, ""); print }
	' | tr -s ' '
}

# Fail listing the options found on one side only.
assert_same_options() {
	local cmd page=$MANDIR/$1.1 from_help from_man only_help only_man
	cmd=$(command_path "$1")
	from_help=$(help_options "$cmd")
	from_man=$(man_options "$page")
	[[ -n "$from_help" ]] || fail "no options found in '$cmd --help'"
	[[ -n "$from_man" ]] || fail "no options found in the OPTIONS section of $page"
	only_help=$(LC_ALL=C comm -23 <(echo "$from_help") <(echo "$from_man") | tr '\n' ' ')
	only_man=$(LC_ALL=C comm -13 <(echo "$from_help") <(echo "$from_man") | tr '\n' ' ')
	if [[ -n "$only_help$only_man" ]]; then
		fail "$(printf '%s\n' \
			"'$cmd --help' and $page disagree" \
			"  in --help, missing from the page's OPTIONS: ${only_help:-none}" \
			"  in the page's OPTIONS, missing from --help: ${only_man:-none}")"
	fi
}

assert_usage_is_synopsis() {
	local cmd page=$MANDIR/$1.1 usage synopsis
	cmd=$(command_path "$1")
	usage=$(help_usage "$cmd")
	synopsis=$(man_synopsis "$page")
	[[ -n "$usage" ]] || fail "no 'usage:' line in '$cmd --help'"
	[[ "$usage" == "$synopsis" ]] ||
		fail "$(printf '%s\n' "'$cmd --help' usage lines:" "$usage" \
			"differ from the SYNOPSIS of $page:" "$synopsis")"
}

assert_help_on_stdout() {
	local cmd
	cmd=$(command_path "$1")
	run --separate-stderr "$cmd" --help
	assert_success
	[[ -n "$output" ]] || fail "'$1 --help' printed nothing on standard output"
	[[ -z "$stderr" ]] || fail "'$1 --help' wrote to standard error: $stderr"
}

# The option column of each option line of `$1 --help`: "-g, --generate N",
# "--stdout", "-X KEY=VALUE".
help_option_columns() {
	"$1" --help | awk '/^(  |      )-/ { sub(/^ +/, ""); split($0, col, /  +/); print col[1] }'
}

# Every option --help lists, long and short form, reaches a case of the
# command's option switch: one that does not ends in "internal error" and
# status 2 before --help is acted on.  A value of 1 suits every option that
# takes a number, a sample value the others (by their argument's name);
# what the options mean together is checked after --help.
assert_every_option_taken() {
	local cmd column name short arg tried=0
	cmd=$(command_path "$1")
	while IFS= read -r column; do
		short=$(grep -oE '^-[A-Za-z0-9]' <<<"$column" || true)
		name=$(grep -oE -- '--[A-Za-z0-9][A-Za-z0-9-]*' <<<"$column" || true)
		arg=$(awk '{ if ($NF !~ /^-/) print $NF }' <<<"$column")
		case $arg in
		"") ;;
		KIND) arg=constant ;;
		pNN=LIMIT) arg=p99=50ms ;;
		*) arg=1 ;;
		esac
		for opt in $short $name; do
			run --separate-stderr "$cmd" "$opt" ${arg:+"$arg"} --help
			[[ "$status" -eq 0 && -z "$stderr" ]] ||
				fail "'$1 $opt ${arg:+$arg }--help' exited $status: $stderr"
			tried=$((tried + 1))
		done
	done < <(help_option_columns "$cmd")
	((tried >= 10)) || fail "only $tried options found in '$1 --help'"
}

@test "every option of every command's --help has a case of its own" {
	local cmd
	for cmd in ecom-produce ecom-consume ecom-persist ecom-reconcile ecom-bench; do
		assert_every_option_taken "$cmd"
	done
}

@test "each command's option switch ends in the internal error, not in an option" {
	# With this, the test above fails for an option the switch lacks,
	# instead of the option silently becoming the one the default stood for.
	local cmd default
	for cmd in ecom-produce ecom-consume ecom-persist ecom-reconcile ecom-bench; do
		default=$(awk '/^take_option\(/ { on = 1 } on && /^}/ { exit }
			on && /default:/ { getline; sub(/^[[:space:]]+/, ""); print }' \
			"$SRCDIR/src/$cmd.c")
		[[ "$default" == "return ecom_cli_unhandled_option(own_options, opt);" ]] ||
			fail "src/$cmd.c: take_option's default: is '${default:-missing}'"
	done
}

# ---- ecom-produce ----------------------------------------------------

@test "ecom-produce --help exits 0 and prints to stdout only" {
	assert_help_on_stdout ecom-produce
}

@test "ecom-produce --help lists exactly the options its man page documents" {
	assert_same_options ecom-produce
}

@test "ecom-produce usage lines are the SYNOPSIS of its man page" {
	assert_usage_is_synopsis ecom-produce
}

# ---- ecom-consume ----------------------------------------------------

@test "ecom-consume --help exits 0 and prints to stdout only" {
	assert_help_on_stdout ecom-consume
}

@test "ecom-consume --help lists exactly the options its man page documents" {
	assert_same_options ecom-consume
}

@test "ecom-consume usage lines are the SYNOPSIS of its man page" {
	assert_usage_is_synopsis ecom-consume
}

# ---- ecom-persist ----------------------------------------------------

@test "ecom-persist --help exits 0 and prints to stdout only" {
	assert_help_on_stdout ecom-persist
}

@test "ecom-persist --help lists exactly the options its man page documents" {
	assert_same_options ecom-persist
}

@test "ecom-persist usage lines are the SYNOPSIS of its man page" {
	assert_usage_is_synopsis ecom-persist
}

# ---- ecom-reconcile --------------------------------------------------

@test "ecom-reconcile --help exits 0 and prints to stdout only" {
	assert_help_on_stdout ecom-reconcile
}

@test "ecom-reconcile --help lists exactly the options its man page documents" {
	assert_same_options ecom-reconcile
}

@test "ecom-reconcile usage lines are the SYNOPSIS of its man page" {
	assert_usage_is_synopsis ecom-reconcile
}

# ---- ecom-bench ------------------------------------------------------

@test "ecom-bench --help exits 0 and prints to stdout only" {
	assert_help_on_stdout ecom-bench
}

@test "ecom-bench --help lists exactly the options its man page documents" {
	assert_same_options ecom-bench
}

@test "ecom-bench usage lines are the SYNOPSIS of its man page" {
	assert_usage_is_synopsis ecom-bench
}

# ---- configuration ---------------------------------------------------

# "key", "ECOM_VAR" pairs of the config_keys table in ecom_config.c.
config_keys() {
	awk '/config_keys\[\] = \{/ { on = 1; next } on && /^\};/ { exit } on' \
		"$SRCDIR/src/lib/ecom_config.c" |
		sed -nE 's/^[[:space:]]*(STRING|URI|INT|LONG)\(([a-z_]+), "(ECOM_[A-Z_]+)".*/\2 \3/p'
}

@test "ecom.yaml(5) documents every configuration key and its variable" {
	local page=$MANDIR/ecom.yaml.5 key var missing=() n=0
	while read -r key var; do
		n=$((n + 1))
		grep -qE "^\.It Cm $key : Ar " "$page" || missing+=("key $key")
		grep -qE "^\.It Ev $var\$" "$page" || missing+=("variable $var")
	done < <(config_keys)
	((n > 0)) || fail "no config_keys table found in src/lib/ecom_config.c"
	grep -qE '^\.It Cm kafka : Ar mapping' "$page" || missing+=("the kafka mapping")
	((${#missing[@]} == 0)) || fail "ecom.yaml.5 does not document: ${missing[*]}"
}

@test "etc/ecom.yaml shows every configuration key, all commented out" {
	local file=$SRCDIR/etc/ecom.yaml key var missing=() active n=0
	while read -r key var; do
		n=$((n + 1))
		grep -qE "^#$key: " "$file" || missing+=("$key")
	done < <(config_keys)
	((n > 0)) || fail "no config_keys table found in src/lib/ecom_config.c"
	grep -qE '^#kafka:' "$file" || missing+=("kafka")
	((${#missing[@]} == 0)) || fail "etc/ecom.yaml lacks commented defaults for: ${missing[*]}"
	active=$(grep -vE '^[[:space:]]*(#|$)' "$file" || true)
	[[ -z "$active" ]] || fail "etc/ecom.yaml sets something: $active"
}

@test "etc/ecom.yaml as shipped is a valid, empty configuration" {
	local cmd
	cmd=$(command_path ecom-produce)
	run --separate-stderr "$cmd" -c "$SRCDIR/etc/ecom.yaml" --generate 0 --stdout
	assert_success
	assert_output ''
	[[ -z "$stderr" ]] || fail "reading etc/ecom.yaml: $stderr"
}
