# What a run shows while it works: live lines on a terminal, progress log lines otherwise, JSON
# lines with --log-format json, nothing but warnings and errors under -q; errors stay visible.
pgq "CREATE TABLE slow (id bigint PRIMARY KEY, body text)"
pgq "INSERT INTO slow SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 25000) g"
pgq "ANALYZE slow"
proxy_start "$PGPORT" 2000000   # about 1.4 s for the table

PGPORT=$PROXY_PORT PGWAREHOUSE_PROGRESS_INTERVAL=0.5 "$PGW" reload slow 2>"$PWD/plain.err" >/dev/null
t_ok "not on a terminal: progress log lines" grep -Eq "^pgwarehouse: progress  slow: [0-9.k]+ rows, [0-9.]+ MB, [0-9.k]+ rows/s, [0-9]+%, ETA [0-9]+s$" "$PWD/plain.err"

PGPORT=$PROXY_PORT PGWAREHOUSE_PROGRESS_INTERVAL=0.5 "$PGW" --log-format json reload slow 2>"$PWD/json.err" >/dev/null
t_ok "json: every stderr line is a JSON object with time, level, msg" "$PY" -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert lines
for l in lines:
    o = json.loads(l)
    assert {"time", "level", "msg"} <= o.keys(), l
' "$PWD/json.err"
t_ok "json: progress lines carry table, rows, bytes" "$PY" -c '
import json, sys
p = [json.loads(l) for l in open(sys.argv[1]) if "\"progress" in l]
# the first line may come before the first batch (0 rows) on a loaded machine
assert p and all(o["table"] == "slow" and o["rows"] >= 0 and o["bytes"] >= 0 for o in p), p
assert any(o["rows"] > 0 and o["bytes"] > 0 for o in p), p
' "$PWD/json.err"
"$PGW" --log-format json sync "no \"such\" table" 2>"$PWD/jsonerr.err" >/dev/null
t_ok "json: an error is one object with level error, quotes escaped" "$PY" -c '
import json, sys
o = [json.loads(l) for l in open(sys.argv[1])]
e = [x for x in o if x["level"] == "error"]
assert len(e) == 1 and "no \"such\" table" in e[0]["msg"], o
' "$PWD/jsonerr.err"

PGPORT=$PROXY_PORT PGWAREHOUSE_PROGRESS_INTERVAL=0.5 "$PGW" -q reload slow 2>"$PWD/quiet.err" >/dev/null
t_eq "-q: nothing on stderr" "0" "$(wc -c <"$PWD/quiet.err")"

# On a terminal (script gives a pty): live lines, and an error line printed whole among them.
pgq "CREATE TABLE broken (id int PRIMARY KEY, x int)"
pgq "INSERT INTO broken VALUES (1, 1)"
cat > conf.yaml <<'YAML'
tables:
  - slow:
      reload: true
  - broken:
      last_modified: nope
YAML
PGPORT=$PROXY_PORT script -qec "$PGW -c conf.yaml --jobs 2 sync all" /dev/null >"$PWD/tty.out" 2>&1
tr '\r' '\n' <"$PWD/tty.out" | sed 's/\x1b\[[0-9;]*[A-Za-z]//g' >"$PWD/tty.txt"
t_ok "terminal: a live line for the table" grep -Eq "^  slow: [0-9.k]+ rows, .* rows/s" "$PWD/tty.txt"
t_ok "terminal: an overall line" grep -Eq "^[01]/2 tables done, " "$PWD/tty.txt"
t_ok "terminal: the error line is printed whole" grep -q "^pgwarehouse: error: sync broken: table \"broken\" has no column \"nope\" for last_modified" "$PWD/tty.txt"
t_ok "terminal: the summary follows" grep -Eq "^slow +reload +25000 " "$PWD/tty.txt"
proxy_stop
t_same "slow equals Postgres" slow
