#!/bin/sh
# Freeing through mmrun, for every design `mmrun designs` lists: one run
# grows two memories, writes and frees the first; a second run on the same
# file grows the second into the freed buckets and reads back. v1 cannot
# free and v1reclaim reuses only buckets above the memory's last one, so
# their file grows; every other design must reuse and keep the file's size.
# Usage: test-freeing.sh PATH/TO/mmrun
set -u
MMRUN=${1:?usage: test-freeing.sh PATH/TO/mmrun}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
    echo "FAIL [$1]: $2"
    failures=$((failures + 1))
}

# Compares what a run printed with what it should have.
expect() {
    design=$1 what=$2 got=$3 want=$4
    [ "$got" = "$want" ] || fail "$design" "$what printed:
$got
instead of:
$want"
}

designs=$("$MMRUN" designs | awk '{ print $1 }')
[ -n "$designs" ] || { echo "FAIL: mmrun designs listed nothing"; exit 1; }

for d in $designs; do
    failures_before=$failures
    mem="$tmp/$d.mem"
    out=$(printf 'grow 0 3\ngrow 1 3\nwrite 1 0 c0ffee\nfree 0\n' |
        "$MMRUN" ops --design "$d" --memory "$mem" --bucket-pages 1)
    rc=$?
    if [ "$d" = v1 ]; then
        expect "$d" "the first run" "$(echo "$out" | sed -n 1,3p)" "0
0
ok"
        echo "$out" | sed -n 4p | grep -q '^error: MM_ENOTSUP' ||
            fail "$d" "free 0 printed '$(echo "$out" | sed -n 4p)', not an MM_ENOTSUP error"
        [ "$rc" -eq 1 ] || fail "$d" "the run with a refused free exited $rc, not 1"
    else
        expect "$d" "the first run" "$out" "0
0
ok
ok"
        [ "$rc" -eq 0 ] || fail "$d" "the first run exited $rc"
    fi
    before=$(wc -c <"$mem")

    out=$(printf 'grow 1 3\nread 1 0 3\ncheck\n' | "$MMRUN" ops --design "$d" --memory "$mem")
    rc=$?
    expect "$d" "the second run" "$out" "3
c0ffee
ok"
    [ "$rc" -eq 0 ] || fail "$d" "the second run exited $rc"
    after=$(wc -c <"$mem")
    case $d in
    v1 | v1reclaim)
        # Nothing reusable: three new one-page buckets.
        [ "$after" -eq $((before + 3 * 65536)) ] ||
            fail "$d" "the file went from $before to $after bytes, not 3 pages more" ;;
    *)
        [ "$after" -eq "$before" ] ||
            fail "$d" "the file grew from $before to $after bytes while 3 buckets were free" ;;
    esac
    [ "$failures" -eq "$failures_before" ] && echo "ok: $d"
done

if [ "$failures" -ne 0 ]; then
    echo "test-freeing: $failures failures"
    exit 1
fi
echo "test-freeing: all designs passed"
