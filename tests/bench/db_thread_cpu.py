#!/usr/bin/python3
"""Where MariaDB's CPU goes, by connection, while a command runs.

    tests/bench/db_thread_cpu.py STATE_DIR [-n UNITS] -- COMMAND [ARGS...]

STATE_DIR is a kept stack (`./quickstart bench --keep ...` prints
/tmp/parley-bench-XXXX/stack). The script reads the CPU time (user +
system, /proc) of every thread of that stack's mariadbd, runs COMMAND,
reads them again, and prints the CPU each connection used: one line per
connection thread (its PROCESSLIST id and user, and the statement seen
running most often on it, sampled every 50 ms over one connection of this
script's own, listed as root), then all background threads (InnoDB's
purge, page cleaner, I/O) together. With -n, per unit (say, per message
the command sent) in microseconds; without, in milliseconds.

Example: the sequencer's share of a send (the bridge connection that is
mostly running "UPDATE JSON_TABLE(... events ... SET e.pos"):

    B=/tmp/parley-bench-XXXX
    tests/bench/db_thread_cpu.py $B/stack -n 30000 -- wrk -c64 -d10s ...
"""
import argparse
import collections
import os
import subprocess
import sys
import threading

import pymysql


def env_of(state):
    env = {}
    with open(os.path.join(state, "stack.env")) as f:
        for line in f:
            if line.startswith("export ") and "=" in line:
                k, v = line[7:].strip().split("=", 1)
                env[k] = v.strip("'\"")
    return env


def ticks(pid):
    """{tid: CPU ticks} for every thread of pid."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[int(tid)] = int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return out


def connections(sock):
    """{tid: (id, user, host)} of the connection threads."""
    q = "SELECT TID, ID, USER, HOST FROM information_schema.PROCESSLIST"
    r = subprocess.run(["mariadb", "--no-defaults", "-S", sock, "-uroot", "-N", "-B", "-e", q],
                       capture_output=True, text=True, check=True)
    out = {}
    for line in r.stdout.splitlines():
        tid, cid, user, host = line.split("\t")
        out[int(tid)] = (int(cid), user, host)
    return out


def sample_statements(sock, stop, seen):
    """Until stop is set, every 50 ms: counts each connection's running
    statement (its first 60 characters) into seen[id]."""
    c = pymysql.connect(unix_socket=sock, user="root", autocommit=True)
    q = ("SELECT ID, LEFT(REPLACE(INFO, '\\n', ' '), 60) FROM"
         " information_schema.PROCESSLIST WHERE INFO IS NOT NULL AND ID <> CONNECTION_ID()")
    with c.cursor() as k:
        while not stop.wait(0.05):
            k.execute(q)
            for cid, info in k.fetchall():
                seen.setdefault(cid, collections.Counter())[info] += 1
    c.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("state")
    ap.add_argument("-n", type=float, help="units of work the command does")
    argv = sys.argv[1:]
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        ap.error("no command after --")
    cmd = argv[argv.index("--") + 1:]
    a = ap.parse_args(argv[:argv.index("--")])
    env = env_of(a.state)
    sock = env["PARLEY_MYSQL_SOCKET"]
    with open(os.path.join(a.state, "run", "mariadbd.pid")) as f:
        pid = int(f.read())
    hz = os.sysconf("SC_CLK_TCK")

    stop, seen = threading.Event(), {}
    sampler = threading.Thread(target=sample_statements, args=(sock, stop, seen), daemon=True)
    t0 = ticks(pid)
    sampler.start()
    rc = subprocess.run(cmd).returncode
    t1 = ticks(pid)
    stop.set()
    sampler.join()
    conns = connections(sock)

    scale, unit = (1e6 / a.n, "us per unit") if a.n else (1e3, "ms")
    rows, background = [], 0
    for tid, v in t1.items():
        used = (v - t0.get(tid, 0)) / hz * scale
        if tid in conns:
            rows.append((used, tid))
        else:
            background += used
    rows.sort(reverse=True)
    print("mariadbd CPU (%s), connection threads by use:" % unit)
    for used, tid in rows:
        cid, user, host = conns[tid]
        if used > 0:
            top = seen.get(cid, collections.Counter()).most_common(1)
            print("  %9.1f  thread %d, connection %d (%s@%s)%s" % (
                used, tid, cid, user, host, "; mostly: " + top[0][0] if top else ""))
    print("  %9.1f  all connection threads" % sum(u for u, _ in rows))
    print("  %9.1f  background threads" % background)
    return rc


if __name__ == "__main__":
    sys.exit(main())
