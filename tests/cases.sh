# shellcheck shell=sh
# Sourced by the shell tests: a scratch folder $tmp (removed at exit) and
# cases that print one line each.
#   begin NAME; ...; fail MESSAGE (any number); end
#   finish SCRIPT   the summary line; exits 1 when a case failed
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
case_failed=0
name=

fail() {
    echo "FAIL [$name]: $1"
    case_failed=1
}

begin() {
    name=$1
    case_failed=0
}

end() {
    if [ "$case_failed" -eq 0 ]; then
        echo "ok: $name"
    else
        failures=$((failures + 1))
    fi
}

finish() {
    echo
    if [ "$failures" -ne 0 ]; then
        echo "$1: $failures cases FAILED"
        exit 1
    fi
    echo "$1: all cases passed"
}
