#!/bin/sh
# mmrun's command line: the example of issue 3 byte for byte, `designs`,
# usage errors (exit 2, one line on stderr), malformed op lines (one
# `error:` line each, the run goes on), `stats`, refused files left
# untouched, and RAM mode. One line per case; exits 1 on any failure.
# Usage: test-mmrun.sh PATH/TO/mmrun
set -u
MMRUN=${1:?usage: test-mmrun.sh PATH/TO/mmrun}
# shellcheck source=tests/cases.sh
. "$(dirname "$0")/../cases.sh"

# run OPS ARGS...: feeds OPS to mmrun ARGS; sets $out, $err, $rc.
run() {
    ops=$1
    shift
    printf '%s' "$ops" | "$MMRUN" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    out=$(cat "$tmp/out")
    err=$(cat "$tmp/err")
}

expect_rc() {
    [ "$rc" -eq "$1" ] || fail "exit status $rc, not $1 (stderr: $err)"
}

expect_out() {
    [ "$out" = "$1" ] || fail "printed:
$out
instead of:
$1"
}

expect_no_stderr() {
    [ -z "$err" ] || fail "wrote to stderr: $err"
}

# line N: the N-th line of $out.
line() {
    printf '%s\n' "$out" | sed -n "${1}p"
}

lines() {
    if [ -z "$out" ]; then echo 0; else printf '%s\n' "$out" | wc -l | tr -d ' '; fi
}

# od_bytes FILE OFFSET COUNT TYPE: the bytes, space-separated.
od_bytes() {
    od -An -t"$4" -j"$2" -N"$3" "$1" | tr -s ' \n' '  ' | sed 's/^ //; s/ $//'
}

size_of() {
    wc -c <"$1" | tr -d ' '
}

# ---------------------------------------------------------------------------
begin "the example of issue 3"
mem="$tmp/example.mem"
run 'grow 3 1
grow 0 2
write 3 0 deadbeef
reopen
read 3 0 4
size 0
grow 255 1
read 3 65535 2
' ops --design v1 --memory "$mem" --bucket-pages 1
expect_rc 1
expect_no_stderr
[ "$(lines)" -eq 8 ] || fail "printed $(lines) lines, not 8"
expect_out_head=$(printf '%s\n' "$out" | sed -n 1,6p)
[ "$expect_out_head" = "0
0
ok
ok
deadbeef
2" ] || fail "the first six lines are:
$expect_out_head"
case $(line 7) in "error: MM_EINVAL"*) ;; *) fail "grow 255 1 printed '$(line 7)'" ;; esac
case $(line 8) in "error: MM_EBOUNDS"*) ;; *) fail "read 3 65535 2 printed '$(line 8)'" ;; esac
[ "$(size_of "$mem")" -eq $((4 * 65536)) ] || fail "the file is $(size_of "$mem") bytes, not 4 pages"
[ "$(od_bytes "$mem" 0 4 x1)" = "4d 47 52 01" ] || fail "the file starts $(od_bytes "$mem" 0 4 x1)"
[ "$(od_bytes "$mem" 2080 4 u1)" = "3 0 0 255" ] ||
    fail "owner bytes are $(od_bytes "$mem" 2080 4 u1), not 3 0 0 255"
[ "$(od_bytes "$mem" 65536 4 x1)" = "de ad be ef" ] ||
    fail "bucket 0 starts $(od_bytes "$mem" 65536 4 x1)"
echo "  example output: $(printf '%s\n' "$out" | tr '\n' '|')"
end

# ---------------------------------------------------------------------------
begin "designs lists every design with a description"
run '' designs
expect_rc 0
expect_no_stderr
[ "$(lines)" -ge 1 ] || fail "listed nothing"
printf '%s\n' "$out" | grep -q '^v1 ' || fail "does not list v1"
bad=$(printf '%s\n' "$out" | grep -cv '^[a-z0-9_-][a-z0-9_-]*  *[^ ].*[^ ]$')
[ "$bad" -eq 0 ] || fail "$bad lines are not 'NAME DESCRIPTION':
$out"
dups=$(printf '%s\n' "$out" | awk '{ print $1 }' | sort | uniq -d)
[ -z "$dups" ] || fail "names listed twice: $dups"
# Every listed name opens a manager.
for d in $(printf '%s\n' "$out" | awk '{ print $1 }'); do
    printf 'grow 1 1\nsize 1\n' | "$MMRUN" ops --design "$d" >"$tmp/d.out" 2>&1 ||
        fail "design '$d' does not run: $(cat "$tmp/d.out")"
    [ "$(cat "$tmp/d.out")" = "0
1" ] || fail "design '$d' printed $(cat "$tmp/d.out")"
done
end

# ---------------------------------------------------------------------------
# usage_case NAME ARGS...: exit 2, nothing on stdout, one line on stderr.
usage_case() {
    begin "usage error: $1"
    shift
    run 'size 0
' "$@"
    expect_rc 2
    [ -z "$out" ] || fail "printed on stdout: $out"
    n=$(printf '%s\n' "$err" | wc -l | tr -d ' ')
    { [ -n "$err" ] && [ "$n" -eq 1 ]; } || fail "wrote $n lines on stderr: $err"
    end
}

usage_case "no command"
usage_case "unknown command" frobnicate
usage_case "designs with an argument" designs extra
usage_case "unknown option" ops --design v1 --bogus
usage_case "missing --design" ops --memory "$tmp/never.mem"
usage_case "--design without a name" ops --design
usage_case "--bucket-pages 0" ops --design v1 --bucket-pages 0
usage_case "--bucket-pages 65536" ops --design v1 --bucket-pages 65536
usage_case "--bucket-pages not a number" ops --design v1 --bucket-pages 12x
usage_case "--bucket-pages negative" ops --design v1 --bucket-pages -1
usage_case "--bucket-pages without a value" ops --design v1 --bucket-pages
usage_case "unknown design" ops --design nosuch
usage_case "--read-only without --memory" ops --design v1 --read-only
usage_case "--read-only with --format" ops --design v1 --memory "$tmp/never.mem" --read-only --format
usage_case "--read-only with --upgrade" ops --design v1 --memory "$tmp/never.mem" --read-only --upgrade
[ -e "$tmp/never.mem" ] && { begin "usage errors create no file"; fail "created $tmp/never.mem"; end; }

# ---------------------------------------------------------------------------
# bad_op NAME LINE: the op line gives one error line, and the ops around it
# still run.
bad_op() {
    begin "malformed op: $1"
    run "grow 0 1
$2
size 0
" ops --design v1 --bucket-pages 1
    expect_rc 1
    expect_no_stderr
    [ "$(lines)" -eq 3 ] || fail "printed $(lines) lines, not 3:
$out"
    [ "$(line 1)" = 0 ] || fail "the op before printed '$(line 1)'"
    case $(line 2) in "error: "?*) ;; *) fail "printed '$(line 2)', not an error line" ;; esac
    [ "$(line 3)" = 1 ] || fail "the op after printed '$(line 3)'"
    end
}

long=$(awk 'BEGIN { for (i = 0; i < 10000; i++) printf "7"; }')
bad_op "unknown op" "frobnicate 1 2"
bad_op "missing args" "grow 0"
bad_op "no args" "write"
bad_op "too many args" "size 0 0"
bad_op "non-number id" "size zero"
bad_op "non-number pages" "grow 0 1x"
bad_op "negative offset" "read 0 -1 1"
bad_op "number past 64 bits" "read 0 99999999999999999999999 1"
bad_op "odd hex" "write 0 0 abc"
bad_op "non-hex" "write 0 0 zz"
bad_op "huge LEN" "read 0 0 18446744073709551615"
bad_op "LEN past the memory" "read 0 0 65537"
bad_op "id 255" "size 255"
bad_op "id past 32 bits" "grow 4294967296 1"
bad_op "a very long line" "grow 0 $long"
bad_op "many words" "grow 0 1 1 1 1 1 1 1 1 1 1 1"

begin "malformed op: a NUL byte in the line"
printf 'grow 0 1\nsize 0\000 junk\ncheck\nsize 0\n' |
    "$MMRUN" ops --design v1 --bucket-pages 1 >"$tmp/out" 2>"$tmp/err"
rc=$?
out=$(cat "$tmp/out")
err=$(cat "$tmp/err")
expect_rc 1
expect_no_stderr
expect_out "0
error: op line holds a NUL byte
ok
1"
end

begin "--version names mmrun's and the library's versions"
"$MMRUN" --version >"$tmp/out" 2>"$tmp/err"
rc=$?
out=$(cat "$tmp/out")
err=$(cat "$tmp/err")
expect_rc 0
expect_no_stderr
v=$(sed -n 's/^#define MMFREE_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' "$(dirname "$0")/../../impl/mmfree.h" |
    paste -sd. -)
expect_out "mmrun $v (libmmfree $v)"
end

begin "blank lines print nothing"
run 'grow 0 1

size 0
' ops --design v1
expect_rc 0
expect_out "0
1"
end

# ---------------------------------------------------------------------------
begin "run prints each phase's wall-clock time per op"
"$MMRUN" run --design list --workload free_regrow --n 256 >"$tmp/out" 2>"$tmp/err"
rc=$?
out=$(cat "$tmp/out")
err=$(cat "$tmp/err")
expect_rc 0
expect_no_stderr
# One "ns_per_op" per phase (grow, free, regrow), each a positive number.
times=$(printf '%s\n' "$out" | grep -o '"ns_per_op":[0-9.e+-]*' | cut -d: -f2)
[ "$(printf '%s\n' "$times" | grep -c .)" -eq 3 ] || fail "not one ns_per_op for each of 3 phases: $out"
for t in $times; do
    awk -v t="$t" 'BEGIN { exit !(t > 0) }' || fail "ns_per_op $t is not positive: $out"
done
end

# ---------------------------------------------------------------------------
begin "stats prints key=value pairs"
run 'grow 0 2
grow 7 1
stats
' ops --design v1 --bucket-pages 1
expect_rc 0
expect_no_stderr
st=$(line 3)
[ "$(lines)" -eq 3 ] || fail "printed $(lines) lines"
for word in $st; do
    case $word in
    [a-z]*=[0-9]*) [ -z "$(printf '%s' "${word#*=}" | tr -d 0-9)" ] || fail "'$word' is not key=number" ;;
    *) fail "'$word' is not key=value" ;;
    esac
done
for want in memories_in_use=2 buckets_allocated=3 buckets_in_use=3 linear_pages=4 bucket_pages=1; do
    case " $st " in *" $want "*) ;; *) fail "'$st' does not say $want" ;; esac
done
end

# ---------------------------------------------------------------------------
# refused_file NAME FILE ERROR ARGS...: mmrun refuses FILE with exit 1, an
# error naming ERROR on stderr, no op run, and FILE unchanged.
refused_file() {
    begin "refused file: $1"
    file=$2
    code=$3
    shift 3
    cp "$file" "$tmp/copy"
    run 'grow 0 1
size 0
' ops --memory "$file" "$@"
    expect_rc 1
    [ -z "$out" ] || fail "ran ops on a refused file: $out"
    case $err in *"$code"*) ;; *) fail "stderr does not name $code: $err" ;; esac
    cmp -s "$file" "$tmp/copy" || fail "the file changed"
    end
}

foreign="$tmp/foreign.mem"
yes 'not a memory manager' | head -c $((2 * 65536)) >"$foreign"
for d in $("$MMRUN" designs | awk '{ print $1 }'); do
    refused_file "foreign data, $d" "$foreign" MM_EMAGIC --design "$d"
done

v1file="$tmp/v1.mem"
printf 'grow 0 3\ngrow 1 1\n' | "$MMRUN" ops --design v1 --memory "$v1file" --bucket-pages 2 >/dev/null
refused_file "another bucket size" "$v1file" MM_EBUCKET_SIZE --design v1 --bucket-pages 3
corrupt="$tmp/corrupt.mem"
cp "$v1file" "$corrupt"
printf '\377\377' | dd of="$corrupt" bs=1 seek=4 conv=notrunc 2>/dev/null # count 65535
refused_file "bucket count over 32768" "$corrupt" MM_ECORRUPT --design v1
cp "$v1file" "$corrupt"
printf '\007' | dd of="$corrupt" bs=1 seek=3 conv=notrunc 2>/dev/null # version 7
refused_file "unknown version" "$corrupt" MM_EVERSION --design v1
cp "$v1file" "$corrupt"
printf 'x' >>"$corrupt"
refused_file "not whole pages" "$corrupt" MM_ESHORT --design v1

begin "--format overwrites foreign data on request"
cp "$foreign" "$tmp/formatted.mem"
run 'grow 0 1
read 0 0 4
' ops --design v1 --memory "$tmp/formatted.mem" --bucket-pages 1 --format
expect_rc 0
expect_out "0
00000000"
[ "$(od_bytes "$tmp/formatted.mem" 0 4 x1)" = "4d 47 52 01" ] || fail "no V1 header after --format"
end

begin "--sync: durable mode gives the same answers"
ops='grow 0 2
write 0 65535 abcd
grow 1 1
free 1
reopen
read 0 65535 2
grow 2 1
check
'
run "$ops" ops --design list --memory "$tmp/plain.mem" --bucket-pages 1
expect_rc 0
plain_out=$out
run "$ops" ops --design list --memory "$tmp/sync.mem" --bucket-pages 1 --sync
expect_rc 0
expect_no_stderr
expect_out "$plain_out"
cmp -s "$tmp/plain.mem" "$tmp/sync.mem" || fail "the files differ"
end

# ---------------------------------------------------------------------------
# A token echoed in an error shows at most 40 bytes, escaped: a 10,000-byte
# one holding a newline gives one short line.
long_nl=$(awk 'BEGIN { printf "ab\ncd"; for (i = 0; i < 10000; i++) printf "x"; }')
begin "a long design name with a newline: one short line"
run 'size 0
' ops --design "$long_nl"
expect_rc 2
n=$(printf '%s\n' "$err" | wc -l | tr -d ' ')
[ "$n" -eq 1 ] || fail "wrote $n lines on stderr"
[ "${#err}" -lt 300 ] || fail "wrote ${#err} bytes on stderr"
case $err in *"'ab\\ncdxxx"*"'..."*) ;; *) fail "does not show the escaped prefix: $err" ;; esac
end

begin "a long bad number in an op: one short error line"
run "grow 0 $long
" ops --design v1
expect_rc 1
[ "$(lines)" -eq 1 ] || fail "printed $(lines) lines"
[ "${#out}" -lt 300 ] || fail "printed ${#out} bytes: the token was not cut"
end

begin "a path with a newline: one short line"
run 'size 0
' ops --design v1 --memory "$tmp/no-such-dir/$long_nl"
expect_rc 1
n=$(printf '%s\n' "$err" | wc -l | tr -d ' ')
[ "$n" -eq 1 ] || fail "wrote $n lines on stderr: $err"
[ "${#err}" -lt 600 ] || fail "wrote ${#err} bytes on stderr"
end

# ---------------------------------------------------------------------------
# One writer per file. hold FILE ARGS...: an mmrun ops ARGS on FILE that
# keeps it open (its ops come from a fifo) until unhold; it has answered
# 'size 0' before hold returns.
hold() {
    file=$1
    shift
    rm -f "$tmp/fifo" "$tmp/holder.out"
    mkfifo "$tmp/fifo"
    "$MMRUN" ops --memory "$file" "$@" <"$tmp/fifo" >"$tmp/holder.out" 2>&1 &
    holder=$!
    exec 3>"$tmp/fifo"
    printf 'size 0\n' >&3
    i=0
    while [ ! -s "$tmp/holder.out" ] && [ "$i" -lt 200 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    [ -s "$tmp/holder.out" ] || fail "the holder never answered"
}
unhold() {
    exec 3>&-
    wait "$holder"
}

locked="$tmp/locked.mem"
printf 'grow 0 2\nwrite 0 0 c0ffee\n' | "$MMRUN" ops --design list --memory "$locked" --bucket-pages 1 >/dev/null
cp "$locked" "$tmp/locked.copy"

# busy ARGS...: mmrun ops ARGS on $locked is refused with MM_EBUSY naming
# the file, and runs no op.
busy() {
    run 'grow 0 1
' ops --design list --memory "$locked" "$@"
    expect_rc 1
    [ -z "$out" ] || fail "ran ops: $out"
    case $err in *MM_EBUSY*"$locked"*) ;; *) fail "not MM_EBUSY naming the file: $err" ;; esac
}

begin "a second mmrun on a file is refused at once (MM_EBUSY), the file unchanged"
hold "$locked" --design list
busy
busy --read-only
unhold
cmp -s "$locked" "$tmp/locked.copy" || fail "the file changed"
end

begin "two --read-only runs share a file; a writer beside them is refused"
chmod 444 "$locked"
hold "$locked" --design list --read-only
run 'size 0
read 0 0 3
grow 0 1
write 0 0 00
free 0
check
size 0
' ops --design list --memory "$locked" --read-only
expect_rc 1
expect_no_stderr
[ "$(line 1)" = 2 ] || fail "size printed '$(line 1)'"
[ "$(line 2)" = c0ffee ] || fail "read printed '$(line 2)'"
for k in 3 4 5; do
    case $(line $k) in "error: MM_EREADONLY"*) ;; *) fail "line $k is '$(line $k)', not MM_EREADONLY" ;; esac
done
[ "$(line 6)" = ok ] || fail "check printed '$(line 6)'"
[ "$(line 7)" = 2 ] || fail "the size changed: '$(line 7)'"
chmod 644 "$locked"
busy
unhold
cmp -s "$locked" "$tmp/locked.copy" || fail "the file changed"
end

# ---------------------------------------------------------------------------
begin "a V1 memory is upgraded only with --upgrade"
cp "$v1file" "$tmp/upgrade.mem"
run 'size 0
' ops --design list --memory "$tmp/upgrade.mem"
expect_rc 1
[ -z "$out" ] || fail "ran ops: $out"
case $err in *MM_EWRONG_DESIGN*V1*--upgrade*) ;; *) fail "stderr does not say V1 and --upgrade: $err" ;; esac
cmp -s "$tmp/upgrade.mem" "$v1file" || fail "the refused open changed the file"
run 'size 0
size 1
check
' ops --design list --memory "$tmp/upgrade.mem" --upgrade
expect_rc 0
expect_out "3
1
ok"
run 'size 0
' ops --design v1 --memory "$tmp/upgrade.mem"
expect_rc 1
case $err in *MM_EWRONG_DESIGN*) ;; *) fail "v1 opened the upgraded file: $err" ;; esac
end

# ---------------------------------------------------------------------------
begin "RAM mode, with reopen"
run 'grow 0 2
write 0 65535 abcd
reopen
read 0 65535 2
size 0
grow 1 1
size 1
check
' ops --design v1 --bucket-pages 1
expect_rc 0
expect_no_stderr
expect_out "0
ok
ok
abcd
2
0
1
ok"
end

finish test-mmrun
