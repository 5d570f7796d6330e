#!/usr/bin/env bash
# Lab 2 against nginx, side by side, and lab 4's chat against its goals
# (issue 9; the figures are in docs/benchmarks.md).
#
#   bash docs/bench.sh                     # every workload, 5 rounds of 5 s each
#   bash docs/bench.sh --rounds 3 --duration 3 --only hello,close
#   bash docs/bench.sh --only chat-broadcast,chat-events,chat-burst
#   bash docs/bench.sh --only chat-events --subscribers 10   # (default 100)
#   bash docs/bench.sh --cores 1           # pin the servers to CPU 1 (taskset)
#   bash docs/bench.sh --quiet-below 100   # do not wait for a quiet machine
#   bash docs/bench.sh --quiet-wait 20     # wait at most 20 s for one (default 120)
#
# What it does, in order:
#   - builds lab2_http, lab4_chat, loadgen and sse_latency in release mode
#     (those the chosen workloads need);
#   - for lab 2's workloads: installs nginx and wrk from Debian if they are
#     missing (needs root); writes a fixture site (a 2 KiB index.html) and an
#     nginx config into a temporary directory: worker_processes 2,
#     access_log off, sendfile on,
#     `location = /hello { return 200 '{"message":"hello"}'; }`; raises the
#     open-file limit, starts both servers on 127.0.0.1 (by PID), and runs
#     each workload in interleaved rounds — ours, nginx, ours, nginx, ... —
#     with wrk -c 64 -t 2, so that both see the same machine;
#   - for lab 4's workloads: each round starts lab4_chat on a fresh data
#     directory under /tmp (on this machine's disk: every acknowledgement
#     is an fdatasync there), with --iterations 1000 for a quick set-up,
#     measures, and stops it by PID;
#   - before each round, waits (up to 2 minutes) until the machine is quiet:
#     less than 15 % of its CPU busy over one second. The rounds record how
#     busy it was, since other work on a shared machine skews everything;
#   - prints a Markdown table per workload with the median of the rounds
#     (lab 2: the ratio ours/nginx and the server's CPU time per request,
#     from /proc), and every round's raw figures;
#   - stops every server it started (also on Ctrl-C or an error).
#
# Workloads (--only takes a comma-separated list of these names):
#   index   GET /index.html, keep-alive
#   hello   GET /hello, keep-alive (nginx answers with `return 200`)
#   close   GET /index.html with Connection: close (a new connection per request)
#   idle    1,000 idle keep-alive connections held open by loadgen while wrk
#           measures GET /hello; the server's RSS is read from /proc
#   tools   loadgen against wrk, on the same lab 2 server
#   chat-broadcast  lab 4: loadgen POSTs /broadcast-peer on 64 connections of
#           one logged-in account (a peer in general); afterwards the log must
#           hold exactly the acknowledged messages. The group commits are
#           counted as the writes of the log's writer thread (/proc/PID/task)
#   chat-events     lab 4: sse_latency, 100 event streams (--subscribers)
#           over 4 accounts, 200 broadcasts/s for --duration seconds, one
#           at a time
#   chat-burst      the same in bursts of 64 broadcasts sent at once
#
# Traffic goes to 127.0.0.1 only. Nothing is timed inside `cargo test`.
set -euo pipefail

ROUNDS=5
DURATION=5
CORES=""
ONLY="index,hello,close,idle,tools,chat-broadcast,chat-events,chat-burst"
OURS_PORT=18080
NGINX_PORT=18081
CONNECTIONS=64
THREADS=2
IDLE_CONNECTIONS=1000
QUIET_BELOW=15
QUIET_WAIT=120
CHAT_SUBSCRIBERS=100

# The header comment above, without its `#`s.
usage() {
    awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) ROUNDS=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --cores) CORES=$2; shift 2 ;;
        --only) ONLY=$2; shift 2 ;;
        --quiet-below) QUIET_BELOW=$2; shift 2 ;;
        --quiet-wait) QUIET_WAIT=$2; shift 2 ;;
        --subscribers) CHAT_SUBSCRIBERS=$2; shift 2 ;;
        -h|--help) usage ;;
        *) echo "bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

cd "$(dirname "$0")/.."
ROOT=$(pwd)
WORK=$(mktemp -d /tmp/weaprous-bench.XXXXXX)
PIDS=()

# Stops every server this script started, by PID, however the script ends.
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

log() { echo "bench.sh: $*" >&2; }

wants() { [[ ",$ONLY," == *",$1,"* ]]; }

# Whether any of lab 2's workloads (against nginx) is wanted.
wants_lab2() { wants index || wants hello || wants close || wants idle || wants tools; }

# Whether any of lab 4's workloads is wanted.
wants_chat() { wants chat-broadcast || wants chat-events || wants chat-burst; }

# --- tools ------------------------------------------------------------------

if wants_lab2 && { ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; }; then
    log "installing nginx and wrk (Debian packages)"
    apt-get update -qq
    # The package would start a system-wide nginx on port 80; we run our own.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx wrk >/dev/null
fi
NGINX=$(command -v nginx || true)
if wants_chat && ! command -v curl >/dev/null; then
    log "installing curl (Debian package), for the chat's set-up"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >/dev/null
fi

EXAMPLES=(--example loadgen)
wants_lab2 && EXAMPLES+=(--example lab2_http)
wants_chat && EXAMPLES+=(--example lab4_chat --example sse_latency)
log "building ${EXAMPLES[*]} (release)"
cargo build --release --quiet "${EXAMPLES[@]}"
LAB2="$ROOT/target/release/examples/lab2_http"
LAB4="$ROOT/target/release/examples/lab4_chat"
LOADGEN="$ROOT/target/release/examples/loadgen"
SSE_LATENCY="$ROOT/target/release/examples/sse_latency"

# Thousands of sockets on each side, plus wrk's and loadgen's.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

PIN=()
if [ -n "$CORES" ]; then
    PIN=(taskset -c "$CORES")
fi

# --- fixture site and nginx config --------------------------------------------

mkdir -p "$WORK/www" "$WORK/nginx/tmp"
# nginx's workers run as `nobody`: they must be able to read the site.
chmod a+rx "$WORK" "$WORK/www"
# A 2 KiB page: numbered lines, padded with spaces to exactly 2048 bytes.
{
    printf '<!doctype html>\n<html><head><meta charset="utf-8"><title>bench</title></head><body>\n'
    for line in $(seq 1 40); do
        printf '<p>line %02d of the 2 KiB benchmark page</p>\n' "$line"
    done
} | head -c 2032 >"$WORK/www/index.html"
printf '%*s\n</body></html>\n' $((2048 - 15 - 1 - $(wc -c <"$WORK/www/index.html"))) '' >>"$WORK/www/index.html"
chmod a+r "$WORK/www/index.html"
[ "$(wc -c <"$WORK/www/index.html")" -eq 2048 ] || { log "fixture is not 2048 bytes"; exit 1; }

cat >"$WORK/nginx/nginx.conf" <<EOF
# Generated by docs/bench.sh. Debian's nginx, tuned only as issue 9 says.
worker_processes 2;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events {
    worker_connections 4096;
}
http {
    access_log off;
    sendfile on;
    # nginx's default closes a keep-alive connection after 1,000 requests;
    # ours never does. Lifted, so that nginx does not pay for reconnecting.
    keepalive_requests 1000000000;
    client_body_temp_path $WORK/nginx/tmp;
    proxy_temp_path $WORK/nginx/tmp;
    fastcgi_temp_path $WORK/nginx/tmp;
    uwsgi_temp_path $WORK/nginx/tmp;
    scgi_temp_path $WORK/nginx/tmp;
    types {
        text/html html;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WORK/www;
        location = /hello {
            default_type application/json;
            return 200 '{"message":"hello"}';
        }
    }
}
EOF

# --- servers ------------------------------------------------------------------

OURS_PID=""
NGINX_PID=""

# Waits until something accepts connections on a port.
wait_for_port() {
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
            return 0
        fi
        sleep 0.05
    done
    log "nothing listens on port $1"
    exit 1
}

start_ours() {
    "${PIN[@]}" "$LAB2" --port "$OURS_PORT" --www "$WORK/www" --quiet \
        --max-connections $((IDLE_CONNECTIONS * 2)) >"$WORK/ours.out" 2>"$WORK/ours.err" &
    OURS_PID=$!
    PIDS+=("$OURS_PID")
    wait_for_port "$OURS_PORT"
}

start_nginx() {
    "${PIN[@]}" "$NGINX" -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" 2>"$WORK/nginx.err" &
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
    wait_for_port "$NGINX_PORT"
}

# Resident memory in KiB of a process and its children (nginx's workers).
rss_kib() {
    local total=0 pid
    for pid in "$1" $(pgrep -P "$1" || true); do
        total=$((total + $(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")))
    done
    echo "$total"
}

# --- measuring ----------------------------------------------------------------

# How busy the CPUs were over one second, in percent (between rounds nothing
# of ours runs, so this is everybody else).
cpu_busy() {
    local before after total=0 idle field
    read -ra before </proc/stat
    sleep 1
    read -ra after </proc/stat
    for field in 1 2 3 4 5 6 7 8; do
        total=$((total + after[field] - before[field]))
    done
    idle=$((after[4] - before[4] + after[5] - before[5]))
    echo $(((total - idle) * 100 / (total > 0 ? total : 1)))
}

# Waits until the machine is quiet (or QUIET_WAIT seconds have passed);
# prints how busy it was when the round started.
wait_for_quiet() {
    local busy
    for waited in $(seq 1 "$QUIET_WAIT"); do
        busy=$(cpu_busy)
        if [ "$busy" -lt "$QUIET_BELOW" ]; then
            break
        fi
        [ $((waited % 10)) -eq 1 ] && log "  machine ${busy}% busy; waiting for it to quiet down"
    done
    echo "$busy"
}

# wrk's figures for one run, on one line: req/s p50_ms p99_ms errors non2xx requests
wrk_run() {
    local output
    output=$(wrk -c "$CONNECTIONS" -t "$THREADS" -d "${DURATION}s" --latency "$@")
    echo "$output" | awk '
        function ms(text) {
            if (text ~ /us$/) return substr(text, 1, length(text) - 2) / 1000
            if (text ~ /ms$/) return substr(text, 1, length(text) - 2) + 0
            if (text ~ /s$/) return substr(text, 1, length(text) - 1) * 1000
            return text
        }
        /Requests\/sec/ { rps = $2 }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        /Socket errors/ { gsub(",", ""); errors = $4 + $6 + $8 + $10 }
        /Non-2xx/ { non2xx = $5 }
        / requests in / { requests = $1 }
        END { printf "%s %.3f %.3f %d %d %d\n", rps, p50, p99, errors, non2xx, requests }'
}

# loadgen's figures for one run, on the same line format (read from its --json).
loadgen_run() {
    local json
    json=$("$LOADGEN" -c "$CONNECTIONS" -t "$THREADS" -d "$DURATION" --json "$@")
    field() { echo "$json" | grep -o "\"$1\":[0-9.e+-]*" | head -1 | cut -d: -f2; }
    local non2xx
    non2xx=$(echo "$json" | grep -o '"non_2xx":{[^}]*}' | grep -o ':[0-9]*' | tr -d : |
        awk '{ sum += $1 } END { print sum + 0 }')
    printf '%.2f %.3f %.3f %d %d %d\n' "$(field requests_per_second)" "$(field p50)" \
        "$(field p99)" "$(field error_total)" "$non2xx" "$(field requests)"
}

# CPU time used so far, in clock ticks, by a process and its child
# processes (nginx's workers). The fields after the command name in
# /proc/PID/stat: utime and stime are the 12th and 13th.
cpu_ticks() {
    local total=0 pid
    for pid in "$1" $(pgrep -P "$1" || true); do
        total=$((total + $(sed 's/.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }')))
    done
    echo "$total"
}

# Runs a client (wrk_run or loadgen_run and its arguments) against the server
# with this PID; prints: req/s p50_ms p99_ms errors non2xx server_cpu_us_per_request.
# CPU per request does not depend on how much CPU the server was given, so
# it is the steadier figure on a busy machine.
measure() {
    local pid=$1 before after figures
    shift
    before=$(cpu_ticks "$pid")
    figures=$("$@")
    after=$(cpu_ticks "$pid")
    echo "$figures" | awk -v ticks=$((after - before)) -v hz="$(getconf CLK_TCK)" '
        { per_request = $6 > 0 ? ticks / hz * 1e6 / $6 : 0
          printf "%s %s %s %s %s %.2f\n", $1, $2, $3, $4, $5, per_request }'
}

# The median of the numbers on standard input.
median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Column N of a results file, as a median.
column_median() {
    awk -v column="$2" '{ print $column }' "$1" | median
}

RESULTS="$WORK/results"
mkdir -p "$RESULTS"
SUMMARY="$WORK/summary.md"
: >"$SUMMARY"

# Prints the table of one workload comparing two result files.
table() {
    local title=$1 left_name=$2 left=$3 right_name=$4 right=$5
    # $6 unused; $7 names an extra column of the rounds, if any.
    local left_rps right_rps
    left_rps=$(column_median "$left" 1)
    right_rps=$(column_median "$right" 1)
    {
        echo
        echo "### $title"
        echo
        echo "| | requests/s | p50 ms | p99 ms | errors | non-2xx | server CPU µs/request |"
        echo "|---|---|---|---|---|---|---|"
        for side in "$left_name:$left" "$right_name:$right"; do
            local name=${side%%:*} file=${side#*:}
            printf '| %s | %.0f | %.3f | %.3f | %s | %s | %.2f |\n' "$name" \
                "$(column_median "$file" 1)" "$(column_median "$file" 2)" \
                "$(column_median "$file" 3)" "$(column_median "$file" 4)" \
                "$(column_median "$file" 5)" "$(column_median "$file" 6)"
        done
        awk -v l="$left_rps" -v r="$right_rps" 'BEGIN { printf "| **ratio** | **%.2f×** | | | | | |\n", l / r }'
        echo
        echo "Rounds (requests/s, p50 ms, p99 ms, errors, non-2xx, server CPU µs/request, % CPU busy before the round${7:+, $7}):"
        echo
        echo '```text'
        paste -d'|' "$left" "$right" | awk -F'|' -v l="$left_name" -v r="$right_name" \
            '{ printf "round %d  %s: %s   %s: %s\n", NR, l, $1, r, $2 }'
        echo '```'
    } | tee -a "$SUMMARY"
}

if wants_lab2; then
    start_ours
    start_nginx
    log "lab2_http pid $OURS_PID on $OURS_PORT, nginx pid $NGINX_PID on $NGINX_PORT; $ROUNDS rounds of ${DURATION}s"
fi

# Each workload: ROUNDS × (ours, then nginx).
compare() {
    local name=$1 title=$2 path=$3
    shift 3
    log "$title"
    : >"$RESULTS/$name.ours"
    : >"$RESULTS/$name.nginx"
    for round in $(seq 1 "$ROUNDS"); do
        busy=$(wait_for_quiet)
        echo "$(measure "$OURS_PID" wrk_run "$@" "http://127.0.0.1:$OURS_PORT$path") $busy" >>"$RESULTS/$name.ours"
        echo "$(measure "$NGINX_PID" wrk_run "$@" "http://127.0.0.1:$NGINX_PORT$path") $busy" >>"$RESULTS/$name.nginx"
        log "  round $round: ours $(tail -1 "$RESULTS/$name.ours" | cut -d' ' -f1), nginx $(tail -1 "$RESULTS/$name.nginx" | cut -d' ' -f1)"
    done
    table "$title" "lab2_http" "$RESULTS/$name.ours" "nginx" "$RESULTS/$name.nginx"
}

if wants index; then
    compare index "GET /index.html (2 KiB), keep-alive" /index.html
fi
if wants hello; then
    compare hello "GET /hello, keep-alive (nginx: return 200)" /hello
fi
if wants close; then
    compare close "GET /index.html, Connection: close" /index.html -H "Connection: close"
fi

# Idle: loadgen holds the idle connections (-c 0: it sends nothing more),
# wrk measures, and the server's RSS is read while they are open.
idle_round() {
    local port=$1 pid=$2 out=$3 busy=$4 holder
    "$LOADGEN" --url "http://127.0.0.1:$port/hello" --idle "$IDLE_CONNECTIONS" \
        -c 0 -d $((DURATION + 5)) >/dev/null 2>"$WORK/holder.err" &
    holder=$!
    # Wait until the server has (nearly) all of them.
    for _ in $(seq 1 200); do
        local open
        open=$(ss -Htn state established "( sport = :$port )" | wc -l)
        [ "$open" -ge "$IDLE_CONNECTIONS" ] && break
        sleep 0.05
    done
    local figures rss
    figures=$(measure "$pid" wrk_run "http://127.0.0.1:$port/hello")
    rss=$(rss_kib "$pid")
    echo "$figures $busy $rss" >>"$out"
    kill "$holder" 2>/dev/null || true
    wait "$holder" 2>/dev/null || true
}

if wants idle; then
    log "$IDLE_CONNECTIONS idle keep-alive connections held open, wrk measures GET /hello"
    : >"$RESULTS/idle.ours"
    : >"$RESULTS/idle.nginx"
    log "  RSS before: ours $(rss_kib "$OURS_PID") KiB, nginx $(rss_kib "$NGINX_PID") KiB"
    for round in $(seq 1 "$ROUNDS"); do
        busy=$(wait_for_quiet)
        idle_round "$OURS_PORT" "$OURS_PID" "$RESULTS/idle.ours" "$busy"
        idle_round "$NGINX_PORT" "$NGINX_PID" "$RESULTS/idle.nginx" "$busy"
        log "  round $round: ours $(tail -1 "$RESULTS/idle.ours"), nginx $(tail -1 "$RESULTS/idle.nginx")"
    done
    table "GET /hello with $IDLE_CONNECTIONS idle keep-alive connections open" \
        "lab2_http" "$RESULTS/idle.ours" "nginx" "$RESULTS/idle.nginx" "" "server RSS KiB"
    {
        echo
        printf 'Server RSS with the idle connections open (median): lab2_http %s KiB, nginx %s KiB (master and workers).\n' \
            "$(column_median "$RESULTS/idle.ours" 8)" "$(column_median "$RESULTS/idle.nginx" 8)"
    } | tee -a "$SUMMARY"
fi

if wants tools; then
    log "loadgen against wrk, on lab2_http"
    for path in /hello /index.html; do
        name=tools$(echo "$path" | tr -c 'a-z' '_')
        : >"$RESULTS/$name.loadgen"
        : >"$RESULTS/$name.wrk"
        for round in $(seq 1 "$ROUNDS"); do
            busy=$(wait_for_quiet)
            echo "$(measure "$OURS_PID" loadgen_run --url "http://127.0.0.1:$OURS_PORT$path") $busy" >>"$RESULTS/$name.loadgen"
            echo "$(measure "$OURS_PID" wrk_run "http://127.0.0.1:$OURS_PORT$path") $busy" >>"$RESULTS/$name.wrk"
            log "  $path round $round: loadgen $(tail -1 "$RESULTS/$name.loadgen" | cut -d' ' -f1), wrk $(tail -1 "$RESULTS/$name.wrk" | cut -d' ' -f1)"
        done
        table "loadgen against wrk: GET $path on lab2_http, keep-alive" \
            "loadgen" "$RESULTS/$name.loadgen" "wrk" "$RESULTS/$name.wrk"
    done
fi

# --- lab 4: the chat ------------------------------------------------------------

CHAT_PORT=18090
# Streams are dealt out to up to 4 accounts.
CHAT_ACCOUNTS=$((CHAT_SUBSCRIBERS < 4 ? CHAT_SUBSCRIBERS : 4))
CHAT_RATE=200
CHAT_BURST=64
CHAT_BODY='{"channel":"general","message":"bench"}'
CHAT_PID=""
CHAT_DATA=""

# Stops a server this script started, by PID, and forgets it.
stop_server() {
    local pid=$1 other kept=()
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for other in "${PIDS[@]}"; do
        [ "$other" = "$pid" ] || kept+=("$other")
    done
    PIDS=("${kept[@]}")
}

# Starts lab4_chat on a fresh data directory under $WORK.
start_chat() {
    CHAT_DATA=$(mktemp -d "$WORK/chat.XXXXXX")
    "${PIN[@]}" "$LAB4" --port "$CHAT_PORT" --data "$CHAT_DATA" --www "$ROOT/www" \
        --iterations 1000 --quiet >"$CHAT_DATA.out" 2>"$CHAT_DATA.err" &
    CHAT_PID=$!
    PIDS+=("$CHAT_PID")
    wait_for_port "$CHAT_PORT"
}

# Registers account $1, logs it in, registers its peer $2 and joins
# general; prints the Cookie header's value.
chat_session() {
    local base="http://127.0.0.1:$CHAT_PORT" jar="$CHAT_DATA.cookies"
    local credentials="{\"username\":\"$1\",\"password\":\"bench-password\"}"
    local post=(curl -sf -o /dev/null -H 'Content-Type: application/json' -X POST)
    "${post[@]}" -d "$credentials" "$base/register" &&
        "${post[@]}" -c "$jar" -d "$credentials" "$base/login" &&
        "${post[@]}" -b "$jar" -d "{\"username\":\"$2\",\"ip\":\"127.0.0.1\",\"port\":9100}" "$base/submit-info" &&
        "${post[@]}" -b "$jar" -d '{"channel":"general"}' "$base/add-list" &&
        echo "sessionid=$(awk '$6 == "sessionid" { print $7 }' "$jar")"
}

# The thread id of the chat's log writer (named chat-store-writer; the
# kernel keeps 15 characters of a name).
writer_tid() {
    grep -l '^chat-store-writ' /proc/"$1"/task/*/comm | cut -d/ -f5
}

# The writes a thread has made: the writer writes each batch of messages
# with one write(2) (and one fdatasync), so this counts the group commits.
thread_writes() {
    awk '/^syscw:/ { print $2 }' "/proc/$1/task/$2/io"
}

# Nanoseconds one thread has run, and waited runnable for a CPU, so far
# (its schedstat; finer than the ticks of /proc/PID/stat).
thread_times() {
    cat "/proc/$1/task/$2/schedstat"
}

# How long one synchronous append of 4 KiB (write + flush, as the log's
# fdatasync) takes on the disk of $WORK, in ms: the mean of 200.
disk_sync_ms() {
    local seconds
    seconds=$(LC_ALL=C dd if=/dev/zero of="$WORK/sync-probe" bs=4k count=200 oflag=dsync 2>&1 |
        awk '/copied/ { print $(NF - 3) }')
    rm -f "$WORK/sync-probe"
    awk -v seconds="$seconds" 'BEGIN { printf "%.2f", seconds / 200 * 1000 }'
}

# Runs one measurement ($2...) against a fresh chat server, with the
# counters of the server and of its writer thread taken around it. Sets
# FIGURES (the measurement's output), SERVER_TICKS, CLIENT_SECONDS (the
# CPU time of the measuring client: loadgen or sse_latency), BATCHES, and
# WRITER_CPU and WRITER_WAIT: the writer's µs on a CPU, and waiting for
# one, per flush.
# $1 is the set-up before the measurement: "session" logs in first and
# passes the cookie as the measurement's last argument; "none" does not.
chat_measure() {
    local setup=$1 writer before_ticks before_writer after_writer before_writes session cookie=()
    local TIMEFORMAT='%U %S'   # what `time` prints: user and system seconds
    shift
    start_chat
    if [ "$setup" = session ]; then
        session=$(chat_session bench bench-peer) ||
            { log "chat set-up failed; see $CHAT_DATA.err"; exit 1; }
        cookie=(-H "Cookie: $session")
    fi
    writer=$(writer_tid "$CHAT_PID")
    before_ticks=$(cpu_ticks "$CHAT_PID")
    before_writer=$(thread_times "$CHAT_PID" "$writer")
    before_writes=$(thread_writes "$CHAT_PID" "$writer")
    FIGURES=$( { time "$@" "${cookie[@]}" 2>"$CHAT_DATA.client.err"; } 2>"$CHAT_DATA.client.time")
    CLIENT_SECONDS=$(awk '{ print $1 + $2 }' "$CHAT_DATA.client.time")
    SERVER_TICKS=$(($(cpu_ticks "$CHAT_PID") - before_ticks))
    after_writer=$(thread_times "$CHAT_PID" "$writer")
    BATCHES=$(($(thread_writes "$CHAT_PID" "$writer") - before_writes))
    read -r WRITER_CPU WRITER_WAIT < <(echo "$before_writer $after_writer" | awk -v b="$BATCHES" '
        { b = b > 0 ? b : 1; printf "%.1f %.1f\n", ($4 - $1) / 1000 / b, ($5 - $2) / 1000 / b }')
    stop_server "$CHAT_PID"
}

# One round of chat-broadcast; appends its figures to $2:
# acknowledged/s p50 p99 errors non-2xx acknowledged log-lines
# lines=acknowledged messages/flush server-CPU-µs/message
# loadgen-CPU-µs/message writer-CPU-µs/flush writer-wait-µs/flush
# disk-sync-ms busy
chat_broadcast_round() {
    local busy=$1 out=$2 sync_ms lines
    sync_ms=$(disk_sync_ms)
    chat_measure session loadgen_run --url "http://127.0.0.1:$CHAT_PORT/broadcast-peer" \
        --method POST --body "$CHAT_BODY"
    lines=$(wc -l <"$CHAT_DATA/messages.jsonl")
    echo "$FIGURES" | awk -v lines="$lines" -v batches="$BATCHES" -v ticks="$SERVER_TICKS" \
        -v hz="$(getconf CLK_TCK)" -v client="$CLIENT_SECONDS" -v writer="$WRITER_CPU" \
        -v wait="$WRITER_WAIT" -v sync_ms="$sync_ms" -v busy="$busy" '
        { acked = $6 - $5
          per = acked > 0 ? acked : 1
          printf "%s %s %s %d %d %d %d %s %.1f %.2f %.2f %s %s %s %s\n", $1, $2, $3, $4, $5, acked, lines,
              (lines == acked ? "yes" : "NO"), acked / (batches > 0 ? batches : 1),
              ticks / hz * 1e6 / per, client * 1e6 / per, writer, wait, sync_ms, busy }' >>"$out"
}

# A number from sse_latency's JSON report: field $2, inside object $3 if given.
report_number() {
    local json=$1
    [ -n "${3:-}" ] && json=$(echo "$json" | grep -o "\"$3\":{[^}]*}")
    echo "$json" | grep -o "\"$2\":[0-9.e+-]*" | head -1 | cut -d: -f2
}

# One round of chat-events or chat-burst (bursts of $3, $4 messages);
# appends to $2: delivery p50 p90 p99 max, acknowledgement p50 p99,
# delivered expected missing duplicates out-of-order, messages/flush,
# server-CPU-µs/message sse_latency-CPU-µs/message writer-CPU-µs/flush
# writer-waiting-µs/flush busy
chat_events_round() {
    local busy=$1 out=$2 burst=$3 messages=$4 json field figures=()
    chat_measure none "$SSE_LATENCY" --url "http://127.0.0.1:$CHAT_PORT" \
        --subscribers "$CHAT_SUBSCRIBERS" --accounts "$CHAT_ACCOUNTS" \
        --messages "$messages" --rate "$CHAT_RATE" --burst "$burst" --json
    json=$FIGURES
    for field in p50 p90 p99 max; do
        figures+=("$(report_number "$json" "$field" latency_ms)")
    done
    figures+=("$(report_number "$json" p50 ack_latency_ms)" "$(report_number "$json" p99 ack_latency_ms)")
    for field in delivered expected missing duplicates out_of_order acknowledged; do
        figures+=("$(report_number "$json" "$field")")
    done
    # Costs per message (acknowledged, the 12th figure), fan-out included.
    echo "${figures[*]}" | awk -v batches="$BATCHES" -v ticks="$SERVER_TICKS" \
        -v hz="$(getconf CLK_TCK)" -v client="$CLIENT_SECONDS" -v writer="$WRITER_CPU" \
        -v wait="$WRITER_WAIT" -v busy="$busy" '
        { per = $12 > 0 ? $12 : 1
          printf "%.3f %.3f %.3f %.3f %.3f %.3f %d %d %d %d %d %.1f %.1f %.1f %s %s %s\n",
              $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 / (batches > 0 ? batches : 1),
              ticks / hz * 1e6 / per, client * 1e6 / per, writer, wait, busy }' >>"$out"
}

# The medians of columns $2... of file $1, as the cells of a table row.
median_cells() {
    local file=$1 column cells=""
    shift
    for column in "$@"; do
        cells="$cells $(column_median "$file" "$column") |"
    done
    echo "$cells"
}

# Prints a chat workload's table: title $1, rounds file $2, header cells
# $3, the columns to take medians of $4..., then every round.
chat_table() {
    local title=$1 file=$2 header=$3
    shift 3
    {
        echo
        echo "### $title"
        echo
        echo "| $header |"
        echo "|$(printf '%s' "$header" | sed 's/[^|]*/---/g')|"
        echo "|$(median_cells "$file" "$@")"
        echo
        echo "Rounds:"
        echo
        echo '```text'
        awk '{ printf "round %d  %s\n", NR, $0 }' "$file"
        echo '```'
    } | tee -a "$SUMMARY"
}

if wants chat-broadcast; then
    log "lab 4: acknowledged POST /broadcast-peer, loadgen -c $CONNECTIONS -t $THREADS"
    : >"$RESULTS/chat-broadcast"
    for round in $(seq 1 "$ROUNDS"); do
        busy=$(wait_for_quiet)
        chat_broadcast_round "$busy" "$RESULTS/chat-broadcast"
        log "  round $round: $(tail -1 "$RESULTS/chat-broadcast")"
    done
    chat_table "lab 4: acknowledged POST /broadcast-peer, $CONNECTIONS connections (median of $ROUNDS rounds)" \
        "$RESULTS/chat-broadcast" \
        "acknowledged/s | p50 ms | p99 ms | errors | non-2xx | messages per flush | server CPU µs/message | loadgen CPU µs/message | writer CPU µs/flush | writer waiting µs/flush | disk sync ms" \
        1 2 3 4 5 9 10 11 12 13 14
    {
        echo
        echo "Columns of the rounds: acknowledged/s, p50 ms, p99 ms, errors, non-2xx, acknowledged, lines in the log, log = acknowledged, messages per flush, server CPU µs/message, loadgen CPU µs/message, writer CPU µs/flush, writer waiting for a CPU µs/flush, disk sync ms (dd oflag=dsync, 4 KiB), % CPU busy before the round."
    } | tee -a "$SUMMARY"
fi

# chat-events and chat-burst: sse_latency with bursts of $2.
events_workload() {
    local name=$1 burst=$2 title=$3 messages
    # Whole bursts, about --duration seconds of them.
    messages=$(((CHAT_RATE * DURATION + burst - 1) / burst * burst))
    log "lab 4: $title"
    : >"$RESULTS/$name"
    for round in $(seq 1 "$ROUNDS"); do
        busy=$(wait_for_quiet)
        chat_events_round "$busy" "$RESULTS/$name" "$burst" "$messages"
        log "  round $round: $(tail -1 "$RESULTS/$name")"
    done
    chat_table "lab 4: $title (median of $ROUNDS rounds)" "$RESULTS/$name" \
        "delivery p50 ms | p90 ms | p99 ms | max ms | acknowledgement p50 ms | p99 ms | missing | messages per flush | server CPU µs/message | sse_latency CPU µs/message | writer CPU µs/flush | writer waiting µs/flush" \
        1 2 3 4 5 6 9 12 13 14 15 16
    {
        echo
        echo "Columns of the rounds: delivery p50, p90, p99, max ms; acknowledgement p50, p99 ms; delivered, expected, missing, duplicates, out of order; messages per flush; server CPU µs/message (its fan-out included); sse_latency CPU µs/message; writer CPU µs/flush; writer waiting for a CPU µs/flush; % CPU busy before the round."
    } | tee -a "$SUMMARY"
}

STREAMS="$CHAT_SUBSCRIBERS event streams over $CHAT_ACCOUNTS accounts"
if wants chat-events; then
    events_workload chat-events 1 "GET /events to $STREAMS, $CHAT_RATE broadcasts/s one at a time"
fi
if wants chat-burst; then
    events_workload chat-burst "$CHAT_BURST" "GET /events to $STREAMS, $CHAT_RATE broadcasts/s in bursts of $CHAT_BURST"
fi

{
    echo
    echo "Machine: $(nproc) cores, $(lscpu | awk -F': +' '/Model name/ {print $2; exit}'), Linux $(uname -r)"
    if wants_lab2; then
        echo "Versions: $("$NGINX" -v 2>&1 | sed 's/.*: //'), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), $(rustc --version)"
    else
        echo "Versions: $(rustc --version)"
    fi
    echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'); $ROUNDS rounds of ${DURATION}s, wrk and loadgen -c $CONNECTIONS -t $THREADS, each round started below ${QUIET_BELOW}% CPU busy (or after ${QUIET_WAIT}s)${CORES:+, servers pinned to CPUs $CORES}"
} | tee -a "$SUMMARY"
