#!/bin/sh
# examples/persist.c on every design, built plainly and under ASan + UBSan:
# what survives the reopen is what each design promises. A design that
# frees shows memory 0 empty, its bucket free, and memory 2 growing into
# it; one that cannot (v1) shows memory 0 as it was. Memory 1 always reads
# back its message. One line per case; exits 1 on any failure.
# Usage: test-example.sh PATH/TO/mmrun PATH/TO/persist...
# ASAN_FILL, when set, is added to the ASan options (scripts/run-tests).
set -u
MMRUN=${1:?usage: test-example.sh PATH/TO/mmrun PATH/TO/persist...}
shift
[ $# -ge 1 ] || { echo "usage: test-example.sh PATH/TO/mmrun PATH/TO/persist..."; exit 2; }
# shellcheck source=tests/cases.sh
. "$(dirname "$0")/../cases.sh"

# has LINE: whether the example printed LINE.
has() {
    printf '%s\n' "$out" | grep -qxF "$1"
}

expect() {
    has "$1" || fail "did not print '$1'"
}

designs=$("$MMRUN" designs | awk '{ print $1 }')
[ -n "$designs" ] || { echo "FAIL: $MMRUN designs lists nothing"; exit 1; }

for persist in "$@"; do
    for d in $designs; do
        begin "$persist $d"
        mem="$tmp/$d.mem"
        # A file with something in it first: the example formats it anyway.
        printf 'grow 5 3\n' | "$MMRUN" ops --design "$d" --memory "$mem" >/dev/null
        out=$(ASAN_OPTIONS="detect_leaks=1${ASAN_FILL:+:$ASAN_FILL}" "$persist" "$d" "$mem" 2>&1)
        rc=$?
        [ "$rc" -eq 0 ] || fail "exit status $rc: $out"
        expect "memory 1: 2 pages, reads \"kept in memory 1\""
        if has "memory 0: freed"; then
            expect "memory 0: 0 pages"
            expect "buckets: 2 carved out, 1 in use, 1 free"
            expect "memory 2: 1 page, in a freed bucket"
        elif has "memory 0: not freed, design $d cannot free"; then
            expect "memory 0: 1 page, reads \"kept in memory 0\""
            expect "memory 2: 1 page, in a new bucket"
        else
            fail "says neither that memory 0 was freed nor that it cannot be: $out"
        fi
        [ "$d" = v1 ] && ! has "memory 0: not freed, design v1 cannot free" &&
            fail "v1 claims to free"
        # What the reopened file holds is what mmrun sees too.
        sizes=$(printf 'size 0\nsize 1\nsize 2\nsize 5\ncheck\n' |
            "$MMRUN" ops --design "$d" --memory "$mem" | tr '\n' ' ')
        want="$(has "memory 0: freed" && echo 0 || echo 1) 2 1 0 ok "
        [ "$sizes" = "$want" ] || fail "mmrun reads sizes '$sizes' from the file, not '$want'"
        end
    done
done

begin "an unknown design is a usage error"
"$1" nosuch "$tmp/x.mem" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 2 ] || fail "exit status $rc"
[ -e "$tmp/x.mem" ] && fail "created the file"
grep -q "no design is named 'nosuch'" "$tmp/err" || fail "said: $(cat "$tmp/err")"
end

finish test-example
