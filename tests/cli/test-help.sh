#!/bin/sh
# mmrun's help and man/mmrun.1 against the code: `mmrun --help` lists the
# commands on one screen, `mmrun COMMAND --help` describes every option and
# op, the option tables are exactly what the help documents, each option is
# accepted as --name VALUE and --name=VALUE, every example runs, usage
# errors are one line (exit 2) naming the command's own help, an unknown
# design lists the designs, and the man page names the same commands,
# options, ops, designs, workloads and examples. One line per case; exits 1
# on any failure.
# Usage: test-help.sh PATH/TO/mmrun
set -u
cd "$(dirname "$0")/../.." || exit 2
MMRUN=${1:?usage: test-help.sh PATH/TO/mmrun}
case $MMRUN in /*) ;; *) MMRUN=$(pwd)/$MMRUN ;; esac
# shellcheck source=tests/cases.sh
. tests/cases.sh

# run ARGS...: runs mmrun in a scratch folder (an option may name a file);
# sets $out, $err, $rc.
mkdir "$tmp/work"
run() {
    (cd "$tmp/work" && "$MMRUN" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null)
    rc=$?
    out=$(cat "$tmp/out")
    err=$(cat "$tmp/err")
}

# section NAME: the lines of the help block that starts with "NAME" (a
# line of its own ending in ':') up to the next blank line.
section() {
    printf '%s\n' "$help" | awk -v head="$1" '
        index($0, head) == 1 && /:$/ { on = 1; next }
        on && /^$/ { exit }
        on { print }'
}

# The man page as text: roff's escapes for '-' and '\' undone, fonts dropped.
man_text=$(sed 's/\\-/-/g; s/\\e/\\/g; s/\\f[BIRP]//g' man/mmrun.1)

begin "mmrun --help and -h: the commands on one screen"
run --help
help=$out
[ "$rc" -eq 0 ] || fail "exit status $rc"
[ -z "$err" ] || fail "wrote to stderr: $err"
lines=$(printf '%s\n' "$help" | wc -l)
[ "$lines" -le 24 ] || fail "$lines lines: more than one 24-line screen"
[ "$lines" -ge 8 ] || fail "printed only: $help"
run -h
[ "$out" = "$help" ] || fail "-h prints something else than --help"
long=$(printf '%s\n' "$help" | awk 'length > 79')
[ -z "$long" ] || fail "lines over 79 columns:
$long"
case $help in *"mmrun COMMAND --help"*) ;; *) fail "does not point to mmrun COMMAND --help" ;; esac
end

commands=$(section commands | awk '/^  [a-z]/ { print $1 }')
begin "the help lists commands"
[ -n "$commands" ] || fail "no commands in the 'commands:' block"
end

# Every command's help, one after the other: what the checks below read.
all_help=
for c in $commands; do
    begin "mmrun $c --help"
    run "$c" --help
    chelp=$out
    all_help="$all_help
$chelp
"
    [ "$rc" -eq 0 ] || fail "exit status $rc: $err"
    first=$(printf '%s\n' "$chelp" | head -n 1)
    case $first in "mmrun $c: "*) ;; *) fail "starts '$first'" ;; esac
    # Its line in mmrun --help is the start of its own help.
    summary=$(printf '%s\n' "$help" | awk -v c="$c" '$1 == c { $1 = ""; sub(/^ /, ""); print; exit }')
    case $first in "mmrun $c: $summary"*) ;; *) fail "'$first' does not begin with the summary '$summary'" ;; esac
    long=$(printf '%s\n' "$chelp" | awk 'length > 79 && !/^  \$ /')
    [ -z "$long" ] || fail "lines over 79 columns (other than examples):
$long"
    printf '%s\n' "$chelp" | grep -q '^  \$ mmrun\|^  \$ .*| mmrun' || fail "has no example"
    run "$c" -h
    [ "$out" = "$chelp" ] || fail "-h prints something else"
    run "$c" --design v1 --help # anywhere among the options
    [ "$out" = "$chelp" ] || fail "--help after an option prints something else"
    case $man_text in *"mmrun $c"*) ;; *) fail "man/mmrun.1 does not describe 'mmrun $c'" ;; esac
    end
done
help=$all_help

# Every option of the help, by command: "--name" words starting the lines
# of an options block.
documented_options=$(printf '%s\n' "$help" | awk '/^options/ { on = 1; next } on && /^$/ { on = 0 }
    on && /^  --/ { print $1 }' | LC_ALL=C sort -u)
begin "options: the option tables are what the help documents, and back"
# Options are entries {"--name", ...} of a table; any other "--name"
# string in the code would be parsed by hand, past the table and the help.
tabled=$(grep -ho '{"--[a-z-]*"' bench/mmrun.c bench/mmrun_run.c | tr -d '{"' | LC_ALL=C sort -u)
[ -n "$tabled" ] || fail "found no option tables in bench/mmrun*.c"
[ "$tabled" = "$documented_options" ] || fail "tables have '$(echo $tabled)', the help '$(echo $documented_options)'"
by_hand=$(grep -ho 'strcmp([a-z]*, "--[a-z-]*")' bench/mmrun.c bench/mmrun_run.c | grep -v '"--help"\|"--version"')
[ -z "$by_hand" ] || fail "options parsed outside the tables: $by_hand"
for o in $documented_options; do
    printf '%s\n' "$man_text" | grep -q "^\.BI* $o\( \|\$\)" || fail "man/mmrun.1 has no entry for $o"
done
end

for c in $commands; do
    opts=$("$MMRUN" "$c" --help | awk '/^options/ { on = 1; next } on && /^$/ { on = 0 }
        on && /^  --/ { print $1, ($2 ~ /^[A-Z]/ ? "1" : "") }')
    [ -n "$opts" ] || continue
    begin "mmrun $c accepts each option its help lists, as --name VALUE and --name=VALUE"
    printf '%s\n' "$opts" | while read -r o has_value; do
        if [ -n "$has_value" ]; then run "$c" "$o" 1; else run "$c" "$o"; fi
        case $err in *"unknown option"*) echo "FAIL [$name]: $o: $err" ;; esac
        [ -n "$has_value" ] || continue
        run "$c" "$o=1"
        case $err in *"unknown option"* | *"needs a value"*) echo "FAIL [$name]: $o=1: $err" ;; esac
    done >"$tmp/accept"
    [ -s "$tmp/accept" ] && { cat "$tmp/accept"; case_failed=1; }
    end
done

begin "--name=VALUE means --name VALUE"
run ops --design=v1 --bucket-pages=1
a=$out
run ops --design v1 --bucket-pages 1
[ "$a" = "$out" ] || fail "ops printed '$a' and '$out'"
printf 'grow 0 1\nstats\n' | "$MMRUN" ops --design=list --bucket-pages=3 >"$tmp/eq" 2>&1
grep -Eq 'bucket_pages=3( |$)' "$tmp/eq" || fail "--bucket-pages=3 was not taken: $(cat "$tmp/eq")"
run run --design=v1 --workload=grow_pages --n=64,128
[ "$rc" -eq 0 ] || fail "run with --name=VALUE: exit status $rc: $err"
[ "$(printf '%s\n' "$out" | grep -c '"status":"ok"')" -eq 2 ] || fail "run --n=64,128 printed: $out"
run designs --json=yes
[ "$rc" -eq 2 ] || fail "a flag given a value: exit status $rc"
case $err in *"--json takes no value"*) ;; *) fail "a flag given a value says: $err" ;; esac
end

# usage_error NAME HELP ARGS...: exit 2, nothing on stdout, one line on
# stderr that names HELP ('mmrun ops --help').
usage_error() {
    begin "usage error: $1"
    want=$2
    shift 2
    run "$@"
    [ "$rc" -eq 2 ] || fail "exit status $rc"
    [ -z "$out" ] || fail "printed on stdout: $out"
    n=$(printf '%s\n' "$err" | wc -l | tr -d ' ')
    { [ -n "$err" ] && [ "$n" -eq 1 ]; } || fail "wrote $n lines on stderr: $err"
    case $err in *"(try '$want')") ;; *) fail "does not end naming '$want': $err" ;; esac
    end
}
usage_error "mmrun --bogus" "mmrun --help" --bogus
usage_error "mmrun -x" "mmrun --help" -x
usage_error "mmrun frobnicate" "mmrun --help" frobnicate
usage_error "mmrun designs --bogus" "mmrun designs --help" designs --bogus
usage_error "mmrun ops --bogus" "mmrun ops --help" ops --design v1 --bogus
usage_error "mmrun ops --bogus=1" "mmrun ops --help" ops --bogus=1
usage_error "mmrun ops --bucket-pages" "mmrun ops --help" ops --design v1 --bucket-pages
usage_error "mmrun run --bogus" "mmrun run --help" run --bogus
usage_error "mmrun run --n=" "mmrun run --help" run --design v1 --workload grow_pages --n=
usage_error "mmrun run --design list --bogus" "mmrun run --help" run --design list --workload grow_pages --n 8 --bogus

begin "an unknown design lists the designs, an unknown workload the workloads"
designs=$("$MMRUN" designs | awk '{ print $1 }')
for args in "ops --design nosuch" "run --design nosuch --workload grow_pages --n 8"; do
    # shellcheck disable=SC2086
    run $args
    [ "$rc" -eq 2 ] || fail "$args: exit status $rc"
    for d in $designs; do
        case $err in *" $d,"* | *" $d)"* | *" $d "*) ;; *) fail "$args: '$err' does not list $d" ;; esac
    done
done
run run --design v1 --workload nosuch --n 8
for w in $(section "workloads (--workload)" | awk '/^  [a-z]/ { print $1 }'); do
    case $err in *" $w,"* | *" $w)"*) ;; *) fail "unknown workload: '$err' does not list $w" ;; esac
done
end

begin "ops: the help lists every op, and each runs"
help_ops=$(section "ops (one per line on standard input)" | awk '/^  [a-z]/ { print $1 }')
# The unknown-op error lists the ops the code has.
code_ops=$(echo 'frobnicate' | "$MMRUN" ops --design v1 | sed -n 's/.*(ops: \(.*\))$/\1/p')
[ -n "$code_ops" ] || fail "the unknown-op error lists no ops"
help_ops=$(printf '%s\n' "$help_ops" | tr '\n' ' ' | sed 's/ $//')
[ "$help_ops" = "$code_ops" ] || fail "help lists '$help_ops', the code has '$code_ops'"
for op in $code_ops; do
    usage=$(section "ops (one per line on standard input)" | awk -v op="$op" '$1 == op { sub(/^  /, ""); sub(/  +.*/, ""); print }')
    # Run with its usage's words as arguments: never 'unknown op'.
    printf '%s\n' "$usage" | (cd "$tmp/work" && "$MMRUN" ops --design v1) >"$tmp/op" 2>&1
    grep -q 'unknown op' "$tmp/op" && fail "'$usage' is an unknown op"
    printf '%s\n' "$man_text" | grep -q "^\.B[I]* $op\( \|$\)" || fail "man/mmrun.1 has no entry for op $op"
done
end

begin "examples: each runs, and man/mmrun.1 shows it"
mkdir "$tmp/bin"
ln -s "$MMRUN" "$tmp/bin/mmrun"
examples=$(printf '%s\n' "$help" | sed -n 's/^  \$ //p')
[ -n "$examples" ] || fail "no examples"
printf '%s\n' "$examples" | while IFS= read -r ex; do
    (cd "$tmp/work" && PATH="$tmp/bin:$PATH" sh -c "$ex") >"$tmp/ex.out" 2>&1
    rc=$?
    [ "$rc" -eq 0 ] || echo "FAIL [$name]: exit status $rc: $ex: $(head -c 300 "$tmp/ex.out")"
    [ -s "$tmp/ex.out" ] || echo "FAIL [$name]: printed nothing: $ex"
    printf '%s\n' "$man_text" | grep -qxF "\$ $ex" || echo "FAIL [$name]: not in man/mmrun.1: $ex"
done >"$tmp/examples"
[ -s "$tmp/examples" ] && { cat "$tmp/examples"; case_failed=1; }
end

begin "man/mmrun.1 names every design, workload and the largest N"
for d in $("$MMRUN" designs | awk '{ print $1 }'); do
    case $man_text in *"$d"*) ;; *) fail "no design $d" ;; esac
done
for w in $(section "workloads (--workload)" | awk '/^  [a-z]/ { print $1 }'); do
    printf '%s\n' "$man_text" | grep -q "^\.BR* $w\( \|,\|$\)" || fail "no workload $w"
done
max_n=$(printf '%s\n' "$help" | sed -n 's/^N is a whole number in 1\.\.\([0-9]*\)\.$/\1/p')
[ -n "$max_n" ] || fail "the help does not say the largest N"
case $man_text in *"1 to $max_n"*) ;; *) fail "does not say N is 1 to $max_n" ;; esac
end

begin "man pages format without warnings"
for page in man/mmrun.1 man/mmfree.3; do
    warnings=$(groff -man -ww -z "$page" 2>&1)
    [ -z "$warnings" ] || fail "$page: $warnings"
done
# Every function the SYNOPSIS of mmfree(3) shows is one of the header's.
for f in $(sed -n '/^\.SH SYNOPSIS/,/^\.SH/p' man/mmfree.3 | grep -o 'mm_[a-z_]*(' | tr -d '('); do
    grep -q "^MM_API .*[ *]$f(" impl/mmfree.h || fail "mmfree.3 shows $f, which impl/mmfree.h does not declare"
done
end

finish test-help
