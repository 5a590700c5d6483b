#!/usr/bin/env bash
# fuzz/campaign.sh [SECONDS_PER_TARGET] — a fuzzing campaign over every target.
#
# Seeds the corpora (seed.sh), builds every target once (`--sanitizer none`), then
# for each target of `cargo +nightly fuzz list`:
# 1. fuzzes it for SECONDS_PER_TARGET (default 3600) with its dictionary if
#    dict/TARGET.dict exists. libFuzzer stops at a crash; the campaign then
#    starts it again for the time left (the artifact is kept), at most
#    MAX_FINDINGS (default 3) times per target, so one bug does not end the
#    campaign and does not fill it either;
# 2. minimises its corpus (`cargo +nightly fuzz cmin`);
# 3. collects the artifacts written meanwhile (artifacts/TARGET/crash-*,
#    timeout-*, oom-*, ...).
# Prints, per target: runs, exec/s (runs over the wall-clock time, start-ups
# included), coverage (libFuzzer's cov and ft at the end), corpus files before
# cmin and after, and the number of artifacts; then every artifact's path. Each
# finding's panic (or libFuzzer error) line is printed as it happens. Logs
# (TARGET.log, TARGET.cmin.log) and summary.txt go to fuzz/campaigns/DATE/ (not
# committed).
# Exits 1 when any target left an artifact, 0 otherwise.
#
# Environment: TARGETS (space-separated targets to run instead of all),
# MAX_FINDINGS (default 3), TIMEOUT (seconds per input before libFuzzer reports
# a timeout; default 20).
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$0")"

secs="${1:-3600}"
case "$secs" in
    -h | --help) sed -n '2,/^set -e/p' "$self" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    '' | *[!0-9]*) echo "usage: fuzz/campaign.sh [SECONDS_PER_TARGET]" >&2; exit 2 ;;
esac
max_findings="${MAX_FINDINGS:-3}"
timeout="${TIMEOUT:-20}"

command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
out="campaigns/$(date -u +%Y%m%d-%H%M%S)"
mkdir -p "$out"
# Artifacts newer than this file are this campaign's.
touch "$out/.start"

./seed.sh
flags=(--sanitizer none)
cargo +nightly fuzz build "${flags[@]}"
targets="${TARGETS:-$(cargo +nightly fuzz list)}"

count() { find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l; }
# The value of `stat::NAME: N` summed over every run in a log.
stat_sum() { awk -v k="stat::$1:" '$1 == k { s += $2 } END { print s + 0 }' "$2"; }
# cov and ft of the last status line in a log.
last_cov() { grep -E '^#[0-9]+.*cov: ' "$1" | tail -1 | sed -E 's/.*cov: ([0-9]+) ft: ([0-9]+).*/\1 \2/'; }

# The last failure in a log: the panic's location and first message line, or
# libFuzzer's SUMMARY line (a timeout, OOM or signal without a Rust panic).
what_failed() {
    awk '/panicked at/ { getline m; p = $0 " " m; next }
         /^SUMMARY: / { last = (p != "") ? p : $0; p = "" }
         END { print (p != "") ? p : (last != "") ? last : "see the log" }' "$1" |
        sed -E "s/^thread '[^']*' (\([0-9]+\) )?//"
}

summary="$out/summary.txt"
printf '%-18s %10s %7s %7s %8s %15s %9s\n' target runs exec/s cov ft corpus artifacts > "$summary"
details=""
found=0
for t in $targets; do
    log="$out/$t.log"
    : > "$log"
    mkdir -p "corpus/$t" "artifacts/$t"
    dict=()
    if [ -f "dict/$t.dict" ]; then dict=("-dict=dict/$t.dict"); fi
    echo "== $t: ${secs} s (log: fuzz/$log)"
    start=$(date +%s)
    findings=0
    while :; do
        left=$((secs - ($(date +%s) - start)))
        [ "$left" -gt 0 ] || break
        # A crash, timeout or OOM exits non-zero; the artifact is in artifacts/$t.
        if cargo +nightly fuzz run "${flags[@]}" "$t" -- -max_total_time="$left" -timeout="$timeout" \
            -print_final_stats=1 ${dict[@]+"${dict[@]}"} >> "$log" 2>&1; then
            break
        fi
        findings=$((findings + 1))
        echo "   finding $findings: $(what_failed "$log")"
        [ "$findings" -lt "$max_findings" ] || { echo "   $max_findings findings: next target"; break; }
    done
    elapsed=$(($(date +%s) - start))
    runs=$(stat_sum number_of_executed_units "$log")
    before=$(count "corpus/$t")
    echo "   $runs runs in ${elapsed} s; minimising ${before} corpus files"
    cargo +nightly fuzz cmin "${flags[@]}" "$t" >> "$out/$t.cmin.log" 2>&1 ||
        echo "   cmin failed (see fuzz/$out/$t.cmin.log); corpus left as it was"
    after=$(count "corpus/$t")
    read -r cov ft <<< "$(last_cov "$log")" || true
    mapfile -t new < <(find "artifacts/$t" -maxdepth 1 -type f -newer "$out/.start" | sort)
    found=$((found + ${#new[@]}))
    printf '%-18s %10s %7s %7s %8s %15s %9s\n' "$t" "$runs" "$((runs / (elapsed > 0 ? elapsed : 1)))" \
        "${cov:-?}" "${ft:-?}" "$before -> $after" "${#new[@]}" >> "$summary"
    for a in ${new[@]+"${new[@]}"}; do
        details+="fuzz/$a ($(wc -c < "$a") bytes)"$'\n'
    done
done

{
    echo
    echo "campaign: ${secs} s per target; logs in fuzz/$out/"
    if [ "$found" -gt 0 ]; then
        echo "artifacts (reproduce: cargo +nightly fuzz run --sanitizer none TARGET FILE; see fuzz/README.md):"
        printf '%s' "$details"
    else
        echo "no artifacts"
    fi
} >> "$summary"
echo
cat "$summary"
[ "$found" -eq 0 ]
