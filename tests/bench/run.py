#!/usr/bin/python3
"""Parley's benchmark suite: every workload next to its baseline, one run.

    tests/bench/run.py [--quick] [--perf] [--keep] [--no-build] [--no-wait]
                       [NAME...]
    (normally through ./quickstart bench [--quick] [NAME...])

Brings up a private stack (scripts/stack.sh in a temporary state directory,
free ports), builds the small C programs of tests/bench/ with Parley's
compiler flags into tests/bench/bin/, measures the baselines (each repeated)
and the workloads, prints ONE table and tears everything down.  NAME picks
workloads (and the baselines they need); see `--list`.  docs/PERFORMANCE.md
explains how to read the table.

Baselines: S lighttpd static file, F libfcgi hello-world (threads as
Parley's) behind the same lighttpd configuration with Parley's process
count, K one scrypt hash at the stack's parameters, R raw loopback-TCP
fan-out (ws_rawfanout), W minimal libwebsockets broadcast server on the
bridge's event loop (lws_broadcast).

Load generators: wrk (closed loop, throughput) with bench.lua; paced (open
loop, fixed schedule, latency from the scheduled time) for every latency
target, end to end included (-m/-W); ws_load for fan-out, idle connections
and the reconnect storm; typing_storm; ws_mktokens seeds users and tokens.
A workload whose endpoint or tool does not exist yet is printed "not
available".  The run waits (up to 15 minutes) while other test runs or load
generators are running, and the table says what load it saw.
"""

import argparse
import contextlib
import json
import os
import pathlib
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
BIN = HERE / "bin"
STACK_SH = REPO / "scripts" / "stack.sh"
NOISE_LIMIT = 0.15          # baseline spread above which the run is noisy
PASSWORD = "Bench-passw0rd"  # every seeded user's password

# ------------------------------------------------------------------ util ---


def log(msg):
    print("bench: %s" % msg, file=sys.stderr, flush=True)


def run(cmd, check=True, env=None, timeout=None, capture=True, cwd=None):
    """Runs cmd (list), returns CompletedProcess (text)."""
    r = subprocess.run(cmd, env=env, timeout=timeout, cwd=cwd, text=True,
                       stdout=subprocess.PIPE if capture else None,
                       stderr=subprocess.PIPE if capture else None)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s%s" % (
            " ".join(map(str, cmd)), r.returncode, r.stdout or "", r.stderr or ""))
    return r


def spawn(cmd, **kw):
    """Popen in a new session, so kill_group() reaches the children a load
    generator forks."""
    return subprocess.Popen(cmd, start_new_session=True, **kw)


def kill_group(p):
    """SIGKILL a spawn()ed process and everything in its session."""
    if p is None:
        return
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait()


def sweep_exe(prefix):
    """SIGKILL every process running a program under prefix (lighttpd's
    FastCGI children ignore SIGTERM: libfcgi catches it)."""
    for d in pathlib.Path("/proc").glob("[0-9]*"):
        try:
            exe = os.readlink(d / "exe")
        except OSError:
            continue
        if exe.startswith(str(prefix) + "/"):
            try:
                os.kill(int(d.name), signal.SIGKILL)
            except ProcessLookupError:
                pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def median(xs):
    return statistics.median(xs) if xs else 0.0


def spread(xs):
    """(max - min) / median of the repetitions."""
    if len(xs) < 2 or median(xs) == 0:
        return 0.0
    return (max(xs) - min(xs)) / median(xs)


def fmt_rate(x):
    if x is None:
        return "-"
    if x >= 100:
        return "{:,.0f}".format(x)
    return "{:.1f}".format(x)


def fmt_ms(x):
    if x is None:
        return "-"
    if x >= 100:
        return "%.0f" % x
    if x >= 10:
        return "%.1f" % x
    return "%.2f" % x


def uuid7():
    ms = int(time.time() * 1000)
    rnd = int.from_bytes(os.urandom(10), "big")
    v = (ms << 80) | (0x7 << 76) | ((rnd >> 68) & 0xFFF) << 64 | \
        (0b10 << 62) | (rnd & ((1 << 62) - 1))
    return str(uuid.UUID(int=v))


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = "%.1f GiB" % (int(line.split()[1]) / 1048576)
                break
    return {"nproc": os.cpu_count(), "model": model, "memory": mem,
            "kernel": os.uname().release}


def foreign_load():
    """Other people's test runs and load generators running now (pytest,
    wrk, the bench's own generators started by someone else); processes
    descending from this run are ours."""
    parent, names = {}, {}
    for p in pathlib.Path("/proc").glob("[0-9]*"):
        try:
            stat = (p / "stat").read_text()
            cmd = (p / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parent[int(p.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        names[int(p.name)] = b" ".join(cmd).decode(errors="replace")
    me = os.getpid()
    found = []
    for pid, args in names.items():
        exe = os.path.basename(args.split(" ", 1)[0]) if args else ""
        if not ("pytest" in args or exe in ("wrk", "ab", "h2load", "paced", "ws_load",
                                            "ws_latency", "ws_rawfanout", "typing_storm")):
            continue
        a, hops = pid, 0
        while a not in (0, 1, me) and hops < 64:
            a, hops = parent.get(a, 0), hops + 1
        if a == me:
            continue
        found.append("%d:%s" % (pid, "pytest" if "pytest" in args else exe))
    return found


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


# ----------------------------------------------------------------- build ---


def make_vars():
    """Parley's compiler flags and libraries, from the configured Makefile."""
    want = ("CC", "CFLAGS", "WARN_CFLAGS", "SAN_CFLAGS", "LWS_LIBS", "FCGI_LIBS",
            "SCRYPT_LIBS", "LDFLAGS", "JANSSON_LIBS", "MARIADB_LIBS", "MEMCACHED_LIBS",
            "CRYPTO_LIBS", "INIH_LIBS", "MARIADB_CFLAGS")
    vals = {"CC": "cc", "CFLAGS": "-g -O2", "WARN_CFLAGS": "-Wall -Wextra",
            "SAN_CFLAGS": "", "LWS_LIBS": "-lwebsockets", "FCGI_LIBS": "-lfcgi",
            "SCRYPT_LIBS": "-lscrypt", "LDFLAGS": "", "JANSSON_LIBS": "-ljansson",
            "MARIADB_LIBS": "-lmariadb", "MEMCACHED_LIBS": "-lmemcached", "CRYPTO_LIBS": "-lcrypto",
            "INIH_LIBS": "-linih", "MARIADB_CFLAGS": ""}
    mk = REPO / "Makefile"
    if mk.exists():
        for line in mk.read_text().splitlines():
            m = re.match(r"^([A-Z_]+) = (.*)$", line)
            if m and m.group(1) in want:
                vals[m.group(1)] = m.group(2).strip()
    return vals


PROGRAMS = {
    # name: (sources, libraries from make_vars)
    "hello_fcgi_threads": (["hello_fcgi_threads.c"], ["FCGI_LIBS"]),
    "scrypt_cost": (["scrypt_cost.c"], ["SCRYPT_LIBS"]),
    "tcp_fanout": (["tcp_fanout.c"], []),
    "lws_broadcast": (["lws_broadcast.c"], ["LWS_LIBS"]),
    "paced": (["paced.c"], []),
    "typing_storm": (["typing_storm.c"], []),
    # The bridge engineer's load generators (tests/bench/ws_*.c, issue 5).
    "ws_load": (["ws_load.c"], []),
    "ws_rawfanout": (["ws_rawfanout.c"], []),
    "ws_latency": (["ws_latency.c"], []),
    "ws_typing": (["ws_typing.c"], []),
    # linked against Parley's core library (libparley.a)
    "ws_mktokens": (["ws_mktokens.c"], ["CORE"]),
}
CORE_LIBS = ["JANSSON_LIBS", "MARIADB_LIBS", "MEMCACHED_LIBS", "CRYPTO_LIBS", "INIH_LIBS",
             "SCRYPT_LIBS"]


def build(args):
    if not args.no_build:
        log("building Parley (make -j2)")
        r = run(["make", "-j2"], check=False, cwd=REPO)
        if r.returncode != 0:
            tail = "\n".join((r.stdout + r.stderr).splitlines()[-15:])
            if all((REPO / b).exists() for b in ("parley-fcgi", "parley-bridge", "parleyctl")):
                log("make failed; benchmarking the binaries already built:\n" + tail)
                args.notes.append("make failed: the binaries of an earlier build were measured")
            else:
                raise RuntimeError("make failed:\n" + tail)
    v = make_vars()
    flags = ["-std=c11", "-pthread", "-D_GNU_SOURCE"] + v["CFLAGS"].split() + \
        v["WARN_CFLAGS"].split() + v["SAN_CFLAGS"].split()
    args.cflags = " ".join(flags)
    BIN.mkdir(exist_ok=True)
    extra = sorted(p.stem for p in HERE.glob("ws_*.c") if p.stem not in PROGRAMS)
    for name in list(PROGRAMS) + extra:
        srcs, libs = PROGRAMS.get(name, ([name + ".c"], []))
        if not all((HERE / s).exists() for s in srcs):
            continue
        pflags = flags
        if name.startswith("ws_"):
            # Other people's generators: Parley's optimisation flags, but
            # their warnings are theirs to fix (and they define _GNU_SOURCE).
            srctext = "".join((HERE / x).read_text() for x in srcs)
            drop = {"-Werror"} | ({"-D_GNU_SOURCE"} if "#define _GNU_SOURCE" in srctext else set())
            pflags = [f for f in flags if f not in drop]
        out = BIN / name
        newest = max((HERE / s).stat().st_mtime for s in srcs)
        if "CORE" in libs and (REPO / "libparley.a").exists():
            newest = max(newest, (REPO / "libparley.a").stat().st_mtime)
        if out.exists() and out.stat().st_mtime >= newest:
            continue
        # Built under a temporary name and renamed: another run may be
        # executing the old binary.
        tmp = out.with_name(".%s.%d" % (name, os.getpid()))
        cmd = [v["CC"]] + pflags + ["-o", str(tmp)] + [str(HERE / s) for s in srcs]
        for lib in libs:
            if lib == "CORE":
                cmd[1:1] = ["-include", str(REPO / "build-config.h"), "-I", str(REPO / "src")] + \
                    v["MARIADB_CFLAGS"].split()
                cmd += [str(REPO / "libparley.a")]
                for core in CORE_LIBS:
                    cmd += v[core].split()
                continue
            cmd += v[lib].split()
        cmd += ["-lm"] + v["LDFLAGS"].split()
        r = run(cmd, check=False)
        if r.returncode != 0:
            log("cannot build %s (skipped):\n%s" % (name, r.stderr[-2000:]))
            tmp.unlink(missing_ok=True)
        else:
            os.replace(tmp, out)


def have(prog):
    return (BIN / prog).exists()


# ----------------------------------------------------------------- stack ---


class Stack:
    """A private stack in a temporary state directory (scripts/stack.sh)."""

    def __init__(self, state, keep):
        self.state = pathlib.Path(state)
        self.keep = keep
        self.env = {}

    def cpu_marks(self):
        """Strings only this stack's processes have on their command line."""
        marks = [str(self.state)]
        port = self.env.get("PARLEY_MEMCACHED_PORT")
        if port:
            marks.append("-p %s " % port)
        return marks

    def write_bench_conf(self):
        """conf.d overrides: every rate limit at its maximum and a long token
        lifetime, so a load generator on one address with a few users is
        not throttled (the limiters still run on every request and
        connection).  Read from the config table in src/core/config.c, so
        limits added later are raised too; nothing else is changed."""
        known = (REPO / "src" / "core" / "config.c").read_text()
        limit = re.compile(r"per_(minute|min|hour|15min|day|chat)|_attempts|max_connections_per")
        by_sec = {}
        for sec, key, hi in re.findall(
                r'INT\("(\w+)",\s*"(\w+)",\s*\w+,\s*[^,]+,\s*[^,]+,\s*([^)]+)\)', known):
            if sec == "ratelimit" or (sec == "bridge" and limit.search(key)):
                if hi.strip().isdigit():
                    by_sec.setdefault(sec, {})[key] = int(hi)
        if re.search(r'\("auth",\s*"access_ttl"', known):
            by_sec.setdefault("auth", {})["access_ttl"] = 86400
        lines = ["# Written by tests/bench/run.py: rate limits at their maximum."]
        for sec, kv in sorted(by_sec.items()):
            lines += ["", "[%s]" % sec] + ["%s = %d" % (k, v) for k, v in sorted(kv.items())]
        d = self.state / "etc" / "conf.d"
        d.mkdir(parents=True, exist_ok=True)
        (d / "90-bench.conf").write_text("\n".join(lines) + "\n")
        os.chmod(d / "90-bench.conf", 0o644)

    def up(self):
        self.state.mkdir(parents=True, exist_ok=True)
        self.write_bench_conf()
        env = dict(os.environ, PARLEY_PORTS="auto", PARLEY_HTTP_PORT="auto",
                   PARLEY_STATE=str(self.state))
        for k in ("PARLEY_PROFILE",):
            env.pop(k, None)
        log("starting the stack in %s" % self.state)
        r = run([str(STACK_SH), "up", str(self.state)], check=False, env=env)
        if r.returncode != 0:
            raise RuntimeError("stack.sh up failed:\n%s%s" % (r.stdout[-3000:], r.stderr[-3000:]))
        self.load_env()

    def load_env(self):
        for line in (self.state / "stack.env").read_text().splitlines():
            if line.startswith("export "):
                k, _, v = line[7:].partition("=")
                self.env[k] = shlex.split(v)[0] if v else ""
        self.url = self.env["PARLEY_URL"]
        self.port = int(self.url.rsplit(":", 1)[1])
        self.bridge_port = int(self.env["PARLEY_BRIDGE_URL"].rsplit(":", 1)[1])

    def down(self):
        if self.keep:
            log("stack kept: %s (scripts/stack.sh down %s)" % (self.state, self.state))
            return
        run([str(STACK_SH), "down", str(self.state)], check=False)
        shutil.rmtree(self.state, ignore_errors=True)

    def config(self):
        """The effective [section] key values (parley.conf, then conf.d)."""
        out = {}
        files = [self.state / "etc" / "parley.conf"] + \
            sorted((self.state / "etc" / "conf.d").glob("*.conf"))
        for f in files:
            sec = ""
            for line in f.read_text().splitlines():
                line = line.strip()
                if not line or line[0] in ";#":
                    continue
                if line.startswith("["):
                    sec = line.strip("[]")
                    continue
                k, _, v = line.partition("=")
                out["%s.%s" % (sec, k.strip())] = v.strip()
        return out

    def fcgi_procs(self):
        conf = (self.state / "etc" / "lighttpd.conf").read_text()
        m = re.search(r'"max-procs"\s*=>\s*(\d+)', conf)
        return int(m.group(1)) if m else 1

    def fcgi_threads(self):
        return int(self.config().get("server.threads", "8"))

    def all_pids(self):
        """Every process of this stack (scripts/stack.sh marks them with
        PARLEY_STACK_STATE in their environment)."""
        mark = ("PARLEY_STACK_STATE=%s" % self.state.resolve()).encode()
        out = []
        for d in pathlib.Path("/proc").glob("[0-9]*"):
            try:
                if mark in (d / "environ").read_bytes().split(b"\0"):
                    out.append(int(d.name))
            except OSError:
                continue
        return out

    def counters(self):
        """MariaDB and memcached work counters, for per-request figures."""
        out = {}
        try:
            for k, v in self.sql("SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions', "
                                 "'Queries', 'Com_select', 'Com_insert', 'Com_update', "
                                 "'Com_delete', 'Com_commit', 'Com_call_procedure', "
                                 "'Innodb_data_fsyncs', 'Innodb_log_writes')"):
                out["db." + k] = int(v)
        except Exception:
            pass
        try:
            addr = self.env["PARLEY_MEMCACHED"]
            if addr.startswith("/"):
                c = socket.socket(socket.AF_UNIX)
                c.settimeout(5)
                c.connect(addr)
            else:
                host, port = addr.rsplit(":", 1)
                c = socket.create_connection((host, int(port)), timeout=5)
            with c:
                c.sendall(b"stats\r\n")
                buf = b""
                while not buf.endswith(b"END\r\n"):
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
            for line in buf.decode().splitlines():
                f = line.split()
                if len(f) == 3 and f[0] == "STAT" and f[2].isdigit():
                    out["mc." + f[1]] = int(f[2])
        except OSError:
            pass
        return out

    def pids(self, name):
        """Pids of the component and its children (for CPU/RSS readings)."""
        p = self.state / "run" / "pids" / ("%s.pid" % name)
        return [int(p.read_text().strip())] if p.exists() else []

    def sql(self, query, params=None, many=False):
        import pymysql
        conn = pymysql.connect(unix_socket=self.env["PARLEY_MYSQL_SOCKET"],
                               user="parley", password=self.env["PARLEY_DB_PASSWORD"],
                               database="parley", autocommit=True)
        try:
            with conn.cursor() as cur:
                if many:
                    cur.executemany(query, params)
                else:
                    cur.execute(query, params)
                return cur.fetchall()
        finally:
            conn.close()


class FLighttpd:
    """Baseline F: hello_fcgi behind a lighttpd rendered from Parley's own
    httpd-conf/lighttpd.conf.in with the same process count."""

    def __init__(self, stack, procs, threads):
        self.dir = stack.state / "bench-f"
        self.port = free_port()
        self.proc = None
        for sub in ("run", "log", "www", "tmp", "bin"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o755)
        user = stack.env.get("PARLEY_RUN_USER", "root")
        run(["chown", "-R", "%s:" % user, str(self.dir / "run"), str(self.dir / "log"),
             str(self.dir / "tmp")], check=False)
        for sub in ("www", "bin"):
            os.chmod(self.dir / sub, 0o755)
        hello = self.dir / "bin" / "hello_fcgi_threads"
        shutil.copy2(BIN / "hello_fcgi_threads", hello)
        os.chmod(hello, 0o755)
        group = run(["id", "-gn", user]).stdout.strip()
        subst = {
            "LISTEN_HOST": "127.0.0.1", "HTTP_PORT": str(self.port), "RUN_USER": user,
            "RUN_GROUP": group, "DOC_ROOT": str(self.dir / "www"),
            "LOG_DIR": str(self.dir / "log"), "RUN_DIR": str(self.dir / "run"),
            "TMP_DIR": str(self.dir / "tmp"), "PARLEY_FCGI": "%s %d" % (hello, threads),
            "PARLEY_CONFIG": "/dev/null", "FCGI_PROCS": str(procs),
            "BRIDGE_HOST": "127.0.0.1", "BRIDGE_PORT": str(stack.bridge_port),
        }
        text = (REPO / "httpd-conf" / "lighttpd.conf.in").read_text()
        for k, v in subst.items():
            text = text.replace("@%s@" % k, v)
        if user == "root":
            text = re.sub(r"(?m)^server\.(username|groupname).*$", "", text)
        self.conf = self.dir / "lighttpd.conf"
        self.conf.write_text(text)

    def start(self):
        self.proc = subprocess.Popen(["lighttpd", "-D", "-f", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        for _ in range(100):
            if http_status("127.0.0.1", self.port, "/api/v1/hello") == 200:
                return
            time.sleep(0.1)
        raise RuntimeError("baseline lighttpd (F) did not come up; see %s" % (self.dir / "log"))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        sweep_exe(self.dir / "bin")


# ------------------------------------------------------------------ HTTP ---


def http_status(host, port, path):
    try:
        with urllib.request.urlopen("http://%s:%d%s" % (host, port, path), timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


class Api:
    """A tiny JSON client for seeding and probing (not for measuring)."""

    def __init__(self, base):
        self.base = base.rstrip("/")

    def call(self, method, path, body=None, token=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                raw = r.read()
                status = r.status
        except urllib.error.HTTPError as e:
            raw = e.read()
            status = e.code
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = None
        return status, doc

    def exists(self, method, path):
        """False only when the router says there is no such endpoint."""
        status, doc = self.call(method, path, {} if method != "GET" else None)
        if status == 404 and doc and "No such endpoint" in json.dumps(doc):
            return False
        return status is not None


def wrk(url, conns, secs, env=None, threads=1):
    e = dict(os.environ, **(env or {}))
    r = run(["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % secs, "--timeout", "5s",
             "-s", str(HERE / "bench.lua"), url], env=e, timeout=secs + 60)
    m = re.search(r"^BENCHJSON (.*)$", r.stdout, re.M)
    if not m:
        raise RuntimeError("wrk printed no result:\n" + r.stdout + r.stderr)
    d = json.loads(m.group(1))
    d["rps"] = d["requests"] / (d["duration_us"] / 1e6)
    errs = d["err_connect"] + d["err_read"] + d["err_write"] + d["err_status"] + d["err_timeout"]
    d["errors"] = errs
    d["ok_rps"] = (d["requests"] - d["err_status"]) / (d["duration_us"] / 1e6)
    for q in ("p50", "p99", "p999"):
        d[q] = d[q + "_us"] / 1000.0
    return d


def paced(port, rate, secs, warm, conns, path, method="GET", body=None, tokens=None):
    cmd = [str(BIN / "paced"), "-a", "127.0.0.1:%d" % port, "-r", "%.1f" % rate,
           "-d", str(secs), "-w", str(warm), "-c", str(conns), "-X", method, "-p", path]
    if body is not None:
        cmd += ["-b", body]
    if tokens:
        cmd += ["-T", tokens]
    r = run(cmd, timeout=secs + warm + 60)
    d = json.loads(r.stdout.strip().splitlines()[-1])
    d["p50"], d["p99"], d["p999"] = d["p50_ms"], d["p99_ms"], d["p999_ms"]
    return d


# What a wrk or paced result holds: counts (summed over repetitions, so the
# per-request notes divide by every request made) and figures (the median
# repetition's value of each).
WRK_COUNTS = ("requests", "errors", "err_connect", "err_read", "err_write", "err_status",
              "err_timeout", "bytes")
WRK_FIGURES = ("rps", "ok_rps", "p50", "p99", "p999")
PACED_COUNTS = ("scheduled", "completed", "ok", "non2xx", "errors", "frames",
                "frames_expected")
PACED_FIGURES = ("achieved_per_s", "p50", "p99", "p999", "p50_ms", "p99_ms", "p999_ms",
                 "frame_p50_ms", "frame_p99_ms", "frame_p999_ms")


def combine_reps(runs, counts, figures):
    """One result of several repetitions of a workload: counts summed,
    figures the median of the repetitions (each separately), every
    repetition kept under "reps"."""
    d = dict(runs[0])
    for k in counts:
        if k in d:
            d[k] = sum(r.get(k, 0) for r in runs)
    for k in figures:
        if k in d:
            d[k] = median([r[k] for r in runs])
    status = {}
    for r in runs:
        for code, n in r.get("status", {}).items():
            status[code] = status.get(code, 0) + n
    if status:
        d["status"] = status
    d["reps"] = runs
    return d


def reps_note(runs, label, fmt, *keys):
    """ "reps LABEL a / b / c (spread x%)": each repetition's keys (joined
    by "/"), and the spread of the first key; "" for a single run."""
    if len(runs) < 2:
        return ""
    reps = " / ".join("/".join(fmt(r[k]) for k in keys) for r in runs)
    return "reps %s%s (spread %.0f%%)" % (label + " " if label else "", reps,
                                         100 * spread([r[keys[0]] for r in runs]))


def kv(text):
    """key=value pairs of a generator's output (later lines win)."""
    out = {}
    for line in text.splitlines():
        for tok in line.split():
            k, eq, v = tok.partition("=")
            if eq:
                out[k] = v
    return out


def cpu_times():
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


LOAD_GENERATORS = ("wrk", "paced", "ws_load", "ws_latency", "typing_storm")


def proc_cpu(marks=()):
    """{program name: CPU jiffies used so far} over the processes (threads
    included, from /proc/PID/stat) whose command line contains one of marks
    (the stack's state directory, its memcached port), the load generators
    and the kernel's workers; lets a workload say which program its CPU
    went to, without counting other stacks running on the machine."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        comm = st[st.index("(") + 1:st.rindex(")")]
        if not (comm in LOAD_GENERATORS or comm.startswith("kworker/") or
                any(m in cmd for m in marks)):
            continue
        name = st[st.index("(") + 1:st.rindex(")")]
        if name.startswith("kworker/"):
            name = "kworker"    # the kernel renames these as they work
        f = st[st.rindex(")") + 2:].split()
        out[name] = out.get(name, 0) + int(f[11]) + int(f[12])
    return out


def cpu_split_note(before, after, n):
    """'CPU per request: mariadbd 120 us, ...' for the programs that used
    at least 3% of what the run used (clock ticks of os.sysconf)."""
    if not n:
        return ""
    hz = float(os.sysconf("SC_CLK_TCK"))
    used = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    total = sum(v for v in used.values() if v > 0)
    if total <= 0:
        return ""
    top = sorted(((v, k) for k, v in used.items() if v >= 0.03 * total), reverse=True)
    return "CPU per request: " + ", ".join(
        "%s %.0f us" % (k, 1e6 * v / hz / n) for v, k in top)


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_s(pid):
    """User + system CPU seconds of a process (all its threads)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def ws_fanout(port, tokens, conns, expect, trigger, procs=2):
    """ws_load --mode fanout against port; trigger() once all are up."""
    p = spawn([str(BIN / "ws_load"), "--url", "ws://127.0.0.1:%d/ws" % port,
                          "--tokens", tokens, "--conns", str(conns), "--procs", str(procs),
                          "--mode", "fanout", "--expect", str(expect), "--timeout", "60"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = []
    try:
        for line in p.stdout:
            out.append(line)
            if line.strip() == "ready":
                break
        got = kv("".join(out))
        if int(got.get("connected", 0)) < conns:
            raise RuntimeError("only %s of %d connections came up: %s" % (
                got.get("connected"), conns, "".join(out)[-500:]))
        trigger()
        rest, _ = p.communicate(timeout=120)
        out.append(rest)
    finally:
        kill_group(p)
    d = kv("".join(out))
    if "frames_per_second" not in d or int(d["events"]) < conns * expect:
        raise RuntimeError("fan-out incomplete: %s" % "".join(out)[-500:])
    d["frames_per_second"] = float(d["frames_per_second"])
    return d


def w_send(port, count):
    """Sends count 100-byte frames carrying a "seq" to the W server."""
    import websocket
    ws = websocket.create_connection("ws://127.0.0.1:%d/ws" % port, timeout=10)
    for i in range(count):
        head = '{"type":"bench","seq":%d,"data":"' % (i + 1)
        ws.send(head + "x" * (100 - len(head) - 2) + '"}')
    time.sleep(0.05)
    ws.close()


# ----------------------------------------------------------------- table ---


def work_note(before, after, n):
    """"per request: ..." from two Stack.counters() readings."""
    if not n:
        return ""

    def per(*keys):
        return sum(after.get(k, 0) - before.get(k, 0) for k in keys) / float(n)

    # The bench's own two SHOW STATUS queries are not Parley's.
    stmts = max(0.0, per("db.Questions") - 2.0 / n)
    inner = per("db.Queries") - per("db.Questions")
    mc_read = per("mc.cmd_get")
    mc_write = per("mc.cmd_set", "mc.incr_hits", "mc.incr_misses", "mc.decr_hits",
                   "mc.decr_misses", "mc.delete_hits", "mc.delete_misses", "mc.cmd_touch")
    bits = ["%.1f SQL statements" % stmts]
    if stmts >= 0.05:
        kinds = [("CALL", "db.Com_call_procedure"), ("SELECT", "db.Com_select"),
                 ("INSERT", "db.Com_insert"), ("UPDATE", "db.Com_update"),
                 ("DELETE", "db.Com_delete"), ("COMMIT", "db.Com_commit"),
                 ("InnoDB log write", "db.Innodb_log_writes"),
                 ("InnoDB fsync", "db.Innodb_data_fsyncs")]
        detail = ["%.2f %s" % (per(k), name) for name, k in kinds if per(k) >= 0.005]
        if inner >= 0.05:
            detail.append("%.1f statements inside stored programs" % inner)
        if detail:
            bits[0] += " (%s)" % ", ".join(detail)
    bits.append("memcached %.1f keys read, %.1f writes" % (mc_read, mc_write))
    return "per request: " + "; ".join(bits)


class Unavailable(Exception):
    """A workload's endpoint or tool does not exist (yet)."""


class Row:
    def __init__(self, rid, what, figure=None, unit="", lat=None, conc="", target="",
                 ratio=None, ok=None, note=""):
        self.rid, self.what, self.figure, self.unit = rid, what, figure, unit
        self.lat = lat          # (p50, p99, p999) in ms or None
        self.conc, self.target, self.ratio, self.ok, self.note = conc, target, ratio, ok, note


class Run:
    def __init__(self, args):
        self.args = args
        self.rows = []
        self.base = {}          # baseline id -> dict(value, reps, ...)
        self.notes = args.notes
        self.noisy = []

    def add(self, row):
        self.rows.append(row)
        verdict = "ok" if row.ok else ("MISSING" if row.ok is False else "")
        fig = fmt_rate(row.figure) if isinstance(row.figure, (int, float)) else \
            (row.figure or row.note)
        log("%-6s %-46s %s %s %s %s" % (row.rid, row.what, fig, row.unit, row.ratio or "",
                                        verdict))

    def baseline(self, bid, what, values, unit, conc="", lat=None, note=""):
        med = median(values)
        sp = spread(values)
        self.base[bid] = {"value": med, "reps": values, "spread": sp, "lat": lat}
        if sp > NOISE_LIMIT:
            self.noisy.append("%s moved %.0f%% between repetitions" % (bid, sp * 100))
        reps = " / ".join(fmt_rate(v) for v in values)
        self.add(Row(bid, what, med, unit, lat=lat, conc=conc,
                     target="spread %.0f%%%s" % (sp * 100, " NOISY" if sp > NOISE_LIMIT else ""),
                     note=(note + "; " if note else "") + "reps " + reps))

    def print_table(self, info, elapsed):
        a = self.args
        hdr = ["id", "what", "figure", "p50 ms", "p99 ms", "p99.9 ms", "conc", "target",
               "ratio", "result"]
        lines = []
        for r in self.rows:
            fig = r.figure if isinstance(r.figure, str) else (
                "%s %s" % (fmt_rate(r.figure), r.unit) if r.figure is not None else "-")
            lat = r.lat or (None, None, None)
            if r.ok is None:
                res = "" if r.figure is not None else "not available"
            else:
                res = "ok" if r.ok else "MISSING"
            lines.append([r.rid, r.what, fig.strip(), fmt_ms(lat[0]), fmt_ms(lat[1]),
                          fmt_ms(lat[2]), str(r.conc), r.target,
                          r.ratio if r.ratio else "", res])
        widths = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h)
                  for i, h in enumerate(hdr)]
        out = []
        out.append("Parley benchmark (%s run, %s) on %d x %s, %s RAM, kernel %s" % (
            "quick" if a.quick else "full", time.strftime("%Y-%m-%d %H:%M"), info["nproc"],
            info["model"], info["memory"], info["kernel"]))
        out.append("command: %s; took %.0f s" % (a.command, elapsed))
        load = "quiet" if not a.load_seen else "OTHER LOAD SEEN: " + ", ".join(sorted(set(a.load_seen)))
        out.append("machine load: %s (loadavg %.2f at start)" % (load, a.load_start))
        if a.perf:
            out.append("PROFILED RUN (--perf): perf was sampling, figures are lower than normal")
        if self.noisy:
            out.append("NOISY RUN: " + "; ".join(self.noisy))
        else:
            out.append("baselines stable: every repetition within %d%%" % (NOISE_LIMIT * 100))
        out.append("")
        fmt = "  ".join("%%-%ds" % w for w in widths)
        out.append(fmt % tuple(hdr))
        out.append(fmt % tuple("-" * w for w in widths))
        for l, r in zip(lines, self.rows):
            out.append((fmt % tuple(l)).rstrip())
        notes = [(r.rid, r.note) for r in self.rows if r.note]
        if notes or self.notes:
            out.append("")
            out.append("notes:")
            for rid, n in notes:
                out.append("  %s: %s" % (rid, n))
            for n in self.notes:
                out.append("  * %s" % n)
        missing = [r for r in self.rows if r.ok is False]
        out.append("")
        out.append("%d targets met, %d MISSING, %d not available" % (
            sum(1 for r in self.rows if r.ok), len(missing),
            sum(1 for r in self.rows if r.ok is None and r.figure is None)))
        text = "\n".join(out)
        print(text, flush=True)
        BIN.mkdir(exist_ok=True)
        (BIN / ("last-%s.txt" % ("quick" if a.quick else "full"))).write_text(text + "\n")


def join_notes(*notes):
    return "; ".join(n for n in notes if n)


def verdict_ratio(value, base, need, higher=True):
    """ratio string and whether it meets `need` (a multiple of base)."""
    if not base:
        return "", None
    ratio = value / base
    ok = ratio >= need if higher else ratio <= need
    return "%.2f" % ratio, ok


# ------------------------------------------------------------- workloads ---

SIZES = {
    # row_reps: repetitions of the send, send-ol and e2e rows (the quick run
    # keeps one of each, to stay under 3 minutes)
    "full": dict(wrk_secs=10, reps=3, row_reps=3, paced_secs=10, paced_warm=2, fan_n=5000,
                 fan_m=20, idle=19000, login_users=400, history=60),
    "quick": dict(wrk_secs=3, reps=2, row_reps=1, paced_secs=4, paced_warm=1, fan_n=1000, fan_m=10,
                  idle=2000, login_users=100, history=60),
}

# name: (description, baselines it needs)
WORKLOADS = {
    "health": ("GET /health (no target: the floor of the API path)", ["F"]),
    "me": ("GET /api/v1/auth/me", ["F"]),
    "history": ("history read, 50 messages", ["F"]),
    "send": ("send to a 10-member group, durable", ["F"]),
    "e2e": ("end-to-end delivery to 10 members, open loop", ["F"]),  # runs send first
    "fanout": ("fan-out to a 5,000-member group", ["R", "W"]),
    "idle": ("idle authenticated connections on one bridge", []),
    "reconnect": ("reconnect storm with resume", []),
    "login": ("logins at saturation", ["K"]),
    "typing": ("typing storm", []),
}
BASELINES = ["S", "F", "K", "R", "W"]


class Seed:
    """Users, tokens, groups and messages, created through the API where it
    is cheap and through SQL where the API would take minutes (bulk users
    share one password hash produced by the API itself)."""

    def __init__(self, stack, api):
        self.stack, self.api = stack, api
        self.tokens = {}        # username -> access token
        self.users = {}         # username -> id
        self.hash = None
        self.group10 = None
        self.error = None

    def _token_of(self, doc):
        d = (doc or {}).get("data") or {}
        tok = d.get("accessToken") or (d.get("tokens") or {}).get("accessToken")
        user = d.get("user") or {}
        return tok, user.get("id") or d.get("id")

    def register(self, name):
        st, doc = self.api.call("POST", "/api/v1/auth/register", {
            "username": name, "email": "%s@bench.example" % name,
            "password": PASSWORD, "displayName": name})
        if st != 201:
            raise RuntimeError("register %s: %s %s" % (name, st, doc))
        tok, uid = self._token_of(doc)
        self.tokens[name], self.users[name] = tok, uid
        return tok

    def login(self, name):
        for _ in range(50):
            st, doc = self.api.call("POST", "/api/v1/auth/login",
                                    {"username": name, "password": PASSWORD})
            if st == 503:       # hashing slots busy
                time.sleep(0.2)
                continue
            if st != 200:
                raise RuntimeError("login %s: %s %s" % (name, st, doc))
            tok, uid = self._token_of(doc)
            self.tokens[name] = tok
            if uid:
                self.users[name] = uid
            return tok
        raise RuntimeError("login %s: still 503" % name)

    def accounts(self):
        """The owner account (through the API) and its password hash."""
        if self.hash is not None:
            return
        self.register("bench_owner")
        rows = self.stack.sql("SELECT password_hash FROM users WHERE username = %s",
                              ("bench_owner",))
        self.hash = rows[0][0]

    def bulk_users(self, prefix, count):
        """count users prefix0..prefixN-1 by SQL, sharing bench_owner's hash."""
        self.accounts()
        names = ["%s%d" % (prefix, i) for i in range(count)]
        have = {r[0] for r in self.stack.sql(
            "SELECT username FROM users WHERE username LIKE %s", (prefix + "%",))}
        rows = []
        for n in names:
            if n in have:
                continue
            uid = uuid7()
            self.users[n] = uid
            rows.append((uid, n, "%s@bench.example" % n, self.hash, n))
        for i in range(0, len(rows), 2000):
            self.stack.sql("INSERT INTO users (id, username, email, password_hash, "
                           "display_name) VALUES (%s, %s, %s, %s, %s)", rows[i:i + 2000],
                           many=True)
        if have:
            for uid, n in self.stack.sql("SELECT id, username FROM users WHERE username "
                                         "LIKE %s", (prefix + "%",)):
                self.users[n] = uid
        return names

    def mktokens(self, count, group, path):
        """count users with tokens (and a group of all of them) through
        tests/bench/ws_mktokens: SQL + Parley's own jwt_sign, no scrypt.
        Returns (group id or None, [(user id, token)])."""
        cmd = [str(BIN / "ws_mktokens"), "--config", self.stack.env["PARLEY_CONFIG"],
               "--users", str(count), "--out", str(path)] + (["--group"] if group else [])
        run(cmd, timeout=900)
        gid, users = None, []
        for line in pathlib.Path(path).read_text().splitlines():
            a, _, b = line.partition(" ")
            if a == "GROUP":
                gid = b
            elif b:
                users.append((a, b))
        return gid, users

    def token_file(self, names, path):
        toks = [self.tokens.get(n) or self.login(n) for n in names]
        pathlib.Path(path).write_text("\n".join(toks) + "\n")
        return str(path)


class Bench:
    def __init__(self, args):
        self.args = args
        self.size = SIZES["quick" if args.quick else "full"]
        self.out = Run(args)
        self.stack = None
        self.flt = None
        self.seed = None
        self.work = None
        self.cache = {}

    # --- helpers
    def tmp(self, name):
        return str(self.work / name)

    def check_load(self):
        found = foreign_load()
        if found:
            self.args.load_seen += found

    def wrk_stack(self, path, conns, env=None):
        self.check_load()
        return wrk(self.stack.url + path, conns, self.size["wrk_secs"], env)

    @contextlib.contextmanager
    def profile(self, name):
        """With --perf: a perf profile (call graphs) of every process of this
        run's stack around the measurement; the report lands in
        tests/bench/bin/perf-NAME.txt (data: perf-NAME.data)."""
        if not self.args.perf:
            yield
            return
        data = BIN / ("perf-%s.data" % name)
        # Only this run's stack (the machine is shared: a system-wide
        # profile would show other people's stacks too).
        pids = self.stack.all_pids()
        p = subprocess.Popen(["perf", "record", "-g", "-F", "999", "-o", str(data),
                              "-p", ",".join(map(str, pids))],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        try:
            yield
        finally:
            p.send_signal(signal.SIGINT)
            p.wait(60)
            out = BIN / ("perf-%s.txt" % name)
            with open(out, "w") as f:
                for sort, graph, limit in (("comm,dso", "none", "0.5"),
                                           ("comm,dso,sym", "none", "0.5"),
                                           ("comm,sym", "caller,2,callee", "4")):
                    r = run(["perf", "report", "-i", str(data), "--stdio", "--no-children",
                             "-g", graph, "--sort", sort, "--percent-limit", limit],
                            check=False, timeout=300)
                    f.write(r.stdout)
            self.args.notes.append("perf profile of %s: %s" % (name, out))

    def unavailable(self, rid, what, why):
        self.out.add(Row(rid, what, None, note="not available: " + why))

    # --- baselines
    def base_S(self):
        www = self.stack.state / "www"
        (www / "bench.txt").write_text("Hello world\n")
        os.chmod(www / "bench.txt", 0o644)
        vals, lats = [], []
        for _ in range(self.size["reps"]):
            d = self.wrk_stack("/bench.txt", 32)
            vals.append(d["rps"])
            lats.append((d["p50"], d["p99"], d["p999"]))
        self.out.baseline("S", "lighttpd static 12-byte file (wrk)", vals, "req/s", conc=32,
                          lat=lats[len(lats) // 2])

    def start_f(self):
        if self.flt is None:
            self.flt = FLighttpd(self.stack, self.stack.fcgi_procs(), self.stack.fcgi_threads())
            self.flt.start()
        return self.flt

    def f_wrk(self, conns):
        self.check_load()
        return wrk("http://127.0.0.1:%d/api/v1/hello" % self.start_f().port, conns,
                   self.size["wrk_secs"])

    def base_F(self):
        procs, threads = self.stack.fcgi_procs(), self.stack.fcgi_threads()
        for c in (32, 64):
            vals, lats = [], []
            for _ in range(self.size["reps"]):
                d = self.f_wrk(c)
                vals.append(d["rps"])
                lats.append((d["p50"], d["p99"], d["p999"]))
            self.out.baseline("F%d" % c, "libfcgi hello-world, lighttpd, %dx%d (wrk)" % (
                procs, threads),
                              vals, "req/s", conc=c, lat=sorted(lats)[len(lats) // 2])

    def base_K(self):
        """Repetitions of (the median of 3 hashes): one hash alone varies
        with page faults and frequency steps more than the 15 % rule."""
        cfg = self.stack.config()
        n, r, p = (cfg.get("auth.scrypt_n", "32768"), cfg.get("auth.scrypt_r", "8"),
                   cfg.get("auth.scrypt_p", "3"))
        meds = []
        for _ in range(self.size["reps"]):
            self.check_load()
            d = json.loads(run([str(BIN / "scrypt_cost"), n, r, p, "3"]).stdout)
            meds.append(d["median_ms"])
        self.out.baseline("K", "one scrypt hash N=%s r=%s p=%s (ms)" % (n, r, p), meds, "ms",
                          note="median of 3 hashes per repetition; %d cores / K = %.1f "
                          "logins/s ceiling" % (os.cpu_count(),
                                                os.cpu_count() * 1000 / median(meds)))

    def base_R(self):
        if not have("ws_rawfanout"):
            return self.unavailable("R", "raw TCP fan-out", "tests/bench/ws_rawfanout.c missing")
        n, m = self.size["fan_n"], self.size["fan_m"]
        vals, us = [], []
        for _ in range(self.size["reps"]):
            self.check_load()
            r = run([str(BIN / "ws_rawfanout"), "--conns", str(n), "--procs", "2",
                     "--messages", str(m), "--size", "100"], timeout=180)
            d = kv(r.stdout)
            vals.append(float(d["frames_per_second"]))
            if "writer_seconds" in d:
                us.append(float(d["writer_seconds"]) * 1e6 / (n * m))
        self.cache["r_us_per_write"] = median(us) if us else None
        self.out.baseline("R", "raw TCP fan-out: 1 writer, %d sockets, 100 B" % n, vals,
                          "deliv/s", conc=n, note="ws_rawfanout, %d writes per socket%s" % (
                              m, "; the writer spends %.1f us per write()" % median(us)
                              if us else ""))

    def event_loop_flag(self):
        """lws_broadcast's option for the bridge's loop: [bridge] event_loop
        from the stack's files, else the default in src/core/config.c."""
        loop = self.stack.config().get("bridge.event_loop")
        if not loop:
            m = re.search(r'STR\("bridge",\s*"event_loop",\s*\w+,\s*"(\w+)"\)',
                          (REPO / "src" / "core" / "config.c").read_text())
            loop = m.group(1) if m else "poll"
        return [] if loop == "poll" else ["--" + loop]

    def base_W(self):
        if not have("ws_load") or not have("lws_broadcast"):
            return self.unavailable("W", "libwebsockets broadcast server",
                                    "tests/bench/ws_load.c missing")
        n, m = self.size["fan_n"], self.size["fan_m"]
        loop = self.event_loop_flag()
        vals, kb = [], []
        toks = self.tmp("w.tokens")
        pathlib.Path(toks).write_text("x x\n")
        for _ in range(self.size["reps"]):
            self.check_load()
            srv = spawn([str(BIN / "lws_broadcast")] + loop, stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL, text=True)
            try:
                port = int(srv.stdout.readline().split()[1])
                rss0 = rss_kb(srv.pid)
                d = ws_fanout(port, toks, n, m, lambda: w_send(port, m))
                kb.append((rss_kb(srv.pid) - rss0) / n)
                vals.append(d["frames_per_second"])
            finally:
                kill_group(srv)
        self.cache["w_kb"] = median(kb)
        self.out.baseline("W", "lws broadcast server (%s loop), %d conns" % (
            (loop[0][2:] if loop else "poll"), n), vals, "deliv/s", conc=n,
            note="ws_load clients; %.1f KB RSS per connection" % median(kb))

    def disk_fsync(self):
        """Reference for the durable paths: fdatasync() latency of a 4 KB
        write on the filesystem MariaDB's data directory is on."""
        path = self.stack.state / "tmp" / "bench-fsync"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        lat = []
        try:
            for i in range(400):
                os.pwrite(fd, b"x" * 4096, (i % 16) * 4096)
                t = time.perf_counter()
                os.fdatasync(fd)
                lat.append((time.perf_counter() - t) * 1000)
        finally:
            os.close(fd)
            path.unlink()
        lat.sort()
        q = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))]
        self.out.add(Row("fsync", "disk fdatasync of 4 KB (reference, no target)",
                         1000.0 / median(lat), "/s", lat=(q(0.5), q(0.99), q(0.999)), conc=1,
                         note="the floor under every durable commit: MariaDB runs "
                         "innodb_flush_log_at_trx_commit=1 in this stack"))

    # --- HTTP workloads
    def ensure_accounts(self):
        if self.seed.error:
            return False
        try:
            if not self.api.exists("POST", "/api/v1/auth/register") or \
               not self.api.exists("GET", "/api/v1/auth/me"):
                self.seed.error = "POST /auth/register or GET /auth/me does not exist yet"
                return False
            self.seed.accounts()
            return True
        except Exception as e:      # the feature is being built: report, go on
            self.seed.error = "seeding accounts failed: %s" % str(e)[:200]
            return False

    def w_health(self):
        d, work = self.measure(lambda: self.wrk_stack("/health", 32))
        f = self.out.base["F32"]["value"]
        self.out.add(Row("health", "GET /health (wrk)", d["rps"], "req/s",
                         lat=(d["p50"], d["p99"], d["p999"]), conc=32,
                         target="(none)", ratio="%.2f F" % (d["rps"] / f), note=work))

    def w_me(self):
        what = "GET /api/v1/auth/me"
        if not self.ensure_accounts():
            return self.unavailable("me", what, self.seed.error)
        tok = self.tmp("me.tokens")
        pathlib.Path(tok).write_text(self.seed.tokens["bench_owner"] + "\n")
        st, _ = self.api.call("GET", "/api/v1/auth/me", token=self.seed.tokens["bench_owner"])
        if st != 200:
            return self.unavailable("me", what, "GET /auth/me answered %s" % st)
        with self.profile("me"):
            d, work = self.measure(lambda: self.wrk_stack("/api/v1/auth/me", 32,
                                                          {"BENCH_TOKENS": tok}))
        f = self.out.base["F32"]
        ratio, ok = verdict_ratio(d["ok_rps"], f["value"], 0.75)
        self.out.add(Row("me", what + " (wrk)", d["ok_rps"], "req/s",
                         lat=(d["p50"], d["p99"], d["p999"]), conc=32,
                         target=">= 0.75 x F32 req/s", ratio=ratio + " F", ok=ok,
                         note=join_notes(work, self.err_note(d))))
        self.cache["me_rps"] = d["ok_rps"]
        # Latency: both open loop at the same offered rate, half of /auth/me's capacity.
        rate = 0.5 * d["ok_rps"]
        s = self.size
        pm = paced(self.stack.port, rate, s["paced_secs"], s["paced_warm"], 32,
                   "/api/v1/auth/me", tokens=tok)
        pf = paced(self.start_f().port, rate, s["paced_secs"], s["paced_warm"], 32,
                   "/api/v1/hello")
        self.cache["me_paced"] = pm
        self.out.add(Row("F-ol", "F hello-world open loop @ %s/s" % fmt_rate(rate),
                         pf["achieved_per_s"], "req/s", lat=(pf["p50"], pf["p99"], pf["p999"]),
                         conc=32, note=self.paced_note(pf)))
        ratio, ok = verdict_ratio(pm["p99"], pf["p99"], 1.5, higher=False)
        self.out.add(Row("me-ol", what + " open loop @ %s/s" % fmt_rate(rate),
                         pm["achieved_per_s"], "req/s", lat=(pm["p50"], pm["p99"], pm["p999"]),
                         conc=32, target="p99 <= 1.5 x F p99", ratio=ratio + " F", ok=ok,
                         note=self.paced_note(pm)))

    # --- conversations
    def group10(self):
        """A 10-member group with tokens for its members, and 60 messages."""
        if "g10" in self.cache:
            return self.cache["g10"]
        if not have("ws_mktokens"):
            raise Unavailable("tests/bench/ws_mktokens.c missing")
        if not self.api.exists("POST", "/api/v1/messages"):
            raise Unavailable("POST /api/v1/messages does not exist yet")
        gid, users = self.seed.mktokens(10, True, self.tmp("g10.users"))
        toks = [t for _, t in users]
        pathlib.Path(self.tmp("g10.tokens")).write_text("\n".join(toks) + "\n")
        for i in range(self.size["history"]):
            st, doc = self.api.call("POST", "/api/v1/messages", {
                "groupId": gid, "type": "TEXT",
                "content": "Seeded message %d for the history benchmark" % i},
                token=toks[i % len(toks)])
            if st != 201:
                raise Unavailable("POST /messages to a group answered %s %s" % (
                    st, json.dumps(doc)[:200]))
        self.cache["g10"] = (gid, users, self.tmp("g10.tokens"))
        return self.cache["g10"]

    def w_history(self):
        what = "history read, 50 messages"
        try:
            gid, users, toks = self.group10()
            path = "/api/v1/messages/group/%s?limit=50" % gid
            if not self.api.exists("GET", path):
                raise Unavailable("GET /messages/group/{id} does not exist yet")
            st, doc = self.api.call("GET", path, token=users[0][1])
            items = (doc or {}).get("data")
            if isinstance(items, dict):
                items = items.get("messages") or items.get("items")
            if st != 200 or not isinstance(items, list) or len(items) != 50:
                raise Unavailable("GET %s answered %s with %s messages" % (
                    path, st, len(items) if isinstance(items, list) else "no"))
        except Unavailable as e:
            return self.unavailable("history", what, str(e))
        with self.profile("history"):
            d, work = self.measure(lambda: self.wrk_stack(path, 32, {"BENCH_TOKENS": toks}))
        ratio, ok = verdict_ratio(d["ok_rps"], self.out.base["F32"]["value"], 0.40)
        self.out.add(Row("history", what + " (wrk)", d["ok_rps"], "req/s",
                         lat=(d["p50"], d["p99"], d["p999"]), conc=32,
                         target=">= 0.40 x F32 req/s", ratio=ratio + " F", ok=ok,
                         note=join_notes(work, "%d B answers" % (d["bytes"] / max(1, d["requests"])),
                                         self.err_note(d))))

    def send_body(self, gid):
        return json.dumps({"groupId": gid, "type": "TEXT", "clientId": "{n}",
                           "content": "Benchmark message {n}: hello, group"})

    def w_send(self):
        what = "send to a 10-member group, durable"
        try:
            gid, users, toks = self.group10()
        except Unavailable as e:
            return self.unavailable("send", what, str(e))
        self.disk_fsync()
        body = self.send_body(gid)
        env = {"BENCH_METHOD": "POST", "BENCH_BODY": body, "BENCH_TOKENS": toks}
        with self.profile("send"):
            d, work = self.measure(lambda: combine_reps(
                [self.wrk_stack("/api/v1/messages", 64, env)
                 for _ in range(self.size["row_reps"])], WRK_COUNTS, WRK_FIGURES))
        ratio, ok = verdict_ratio(d["ok_rps"], self.out.base["F64"]["value"], 0.30)
        self.cache["send_rps"] = d["ok_rps"]
        self.out.add(Row("send", what + " (wrk)", d["ok_rps"], "msg/s",
                         lat=(d["p50"], d["p99"], d["p999"]), conc=64,
                         target=">= 0.30 x F64 req/s", ratio=ratio + " F", ok=ok,
                         note=join_notes(reps_note(d["reps"], "", fmt_rate, "ok_rps"), work,
                                         "%d FastCGI threads" % (
                                             self.stack.fcgi_procs() * self.stack.fcgi_threads()),
                                         self.err_note(d))))
        s = self.size
        rate = 0.5 * d["ok_rps"]
        pm = combine_reps([paced(self.stack.port, rate, s["paced_secs"], s["paced_warm"], 64,
                                 "/api/v1/messages", method="POST", body=body, tokens=toks)
                           for _ in range(s["row_reps"])], PACED_COUNTS, PACED_FIGURES)
        ok = pm["p99"] <= 10.0 and not pm["errors"]
        self.out.add(Row("send-ol", what + " open loop @ %s/s" % fmt_rate(rate),
                         pm["achieved_per_s"], "msg/s", lat=(pm["p50"], pm["p99"], pm["p999"]),
                         conc=64, target="p99 <= 10 ms", ratio="%.2f x" % (pm["p99"] / 10.0),
                         ok=ok, note=join_notes(
                             reps_note(pm["reps"], "p50/p99 ms", fmt_ms, "p50", "p99"),
                             self.paced_note(pm))))

    def w_e2e(self):
        """POSTs open loop at half the send capacity into a group whose 10
        other members are connected through lighttpd; latency from each
        POST's due time to its frame on each member's socket."""
        what = "end-to-end POST -> frame at 10 members"
        if not have("ws_mktokens"):
            return self.unavailable("e2e", what, "tests/bench/ws_mktokens.c missing")
        if not self.api.exists("POST", "/api/v1/messages"):
            return self.unavailable("e2e", what, "POST /api/v1/messages does not exist yet")
        if "send_rps" not in self.cache:
            self.w_send()
        if "send_rps" not in self.cache:
            return self.unavailable("e2e", what, "no send capacity measured")
        gid, users = self.seed.mktokens(11, True, self.tmp("e2e.users"))
        pathlib.Path(self.tmp("e2e.sender")).write_text(users[0][1] + "\n")
        pathlib.Path(self.tmp("e2e.members")).write_text(
            "\n".join(t for _, t in users[1:]) + "\n")
        rate = 0.5 * self.cache["send_rps"]
        s = self.size
        body = json.dumps({"groupId": gid, "type": "TEXT",
                           "content": "e2e#{seq}# end-to-end latency probe"})
        self.check_load()
        def once():
            r = run([str(BIN / "paced"), "-a", "127.0.0.1:%d" % self.stack.port,
                     "-r", "%.1f" % rate, "-d", str(s["paced_secs"]), "-w", str(s["paced_warm"]),
                     "-c", "16", "-X", "POST", "-p", "/api/v1/messages", "-b", body,
                     "-T", self.tmp("e2e.sender"), "-m", self.tmp("e2e.members"), "-W", "/ws"],
                    timeout=s["paced_secs"] + s["paced_warm"] + 60)
            return json.loads(r.stdout.strip().splitlines()[-1])

        def go():
            return combine_reps([once() for _ in range(s["row_reps"])], PACED_COUNTS,
                                PACED_FIGURES)

        lag0 = self.bridge_lag()
        with self.profile("e2e"):
            d, work = self.measure(go)
        lag1 = self.bridge_lag()
        if lag0 and lag1 and lag1["count"] > lag0["count"]:
            n = lag1["count"] - lag0["count"]
            work += "; bridge event lag (row written -> frame written, its /metrics): mean " \
                "%.2f ms, %.0f%% <= 1 ms, %.0f%% <= 2 ms, %.0f%% <= 5 ms" % (
                    (lag1["sum"] - lag0["sum"]) * 1000 / n,
                    *[100.0 * (lag1[b] - lag0.get(b, 0)) / n for b in ("0.001", "0.002", "0.005")])
        lat = (d["frame_p50_ms"], d["frame_p99_ms"], d["frame_p999_ms"])
        complete = d["frames"] >= d["frames_expected"]
        ok = lat[0] <= 1.5 and lat[1] <= 5.0 and complete and not d["errors"]
        self.out.add(Row("e2e", what + " @ %s/s" % fmt_rate(rate), d["achieved_per_s"], "msg/s",
                         lat=lat, conc=16, target="p50 <= 1.5 ms, p99 <= 5 ms",
                         ratio="%.2f x, %.2f x" % (lat[0] / 1.5, lat[1] / 5.0), ok=ok,
                         note="open loop from each POST's due time, WebSockets through "
                         "lighttpd; %d of %d frames%s; POST p50/p99 %s/%s ms" % (
                             d["frames"], d["frames_expected"],
                             "" if complete else " (MISSING FRAMES)",
                             fmt_ms(d["p50_ms"]), fmt_ms(d["p99_ms"])) +
                         "".join("; " + n for n in (
                             reps_note(d["reps"], "p50/p99 ms", fmt_ms, "frame_p50_ms",
                                       "frame_p99_ms"),
                             self.paced_note(d), work) if n)))

    # --- bridge
    def bridge_pid(self):
        pids = self.stack.pids("bridge")
        if not pids:
            raise Unavailable("the bridge is not running")
        return pids[0]

    def bridge_lag(self):
        """The bridge's event-lag histogram (cumulative buckets, sum, count)
        from its /metrics, or None."""
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.stack.bridge_port,
                                        timeout=5) as r:
                text = r.read().decode()
        except OSError:
            return None
        out = {}
        for line in text.splitlines():
            m = re.match(r'parley_bridge_event_lag_seconds_bucket\{le="([^"]+)"\} (\d+)', line)
            if m:
                out[m.group(1)] = int(m.group(2))
            elif line.startswith("parley_bridge_event_lag_seconds_sum "):
                out["sum"] = float(line.split()[1])
            elif line.startswith("parley_bridge_event_lag_seconds_count "):
                out["count"] = int(line.split()[1])
        return out if "count" in out else None

    def fresh_bridge(self):
        """Restarts the bridge, so memory and CPU readings are of a process
        that held nothing before (freed memory of earlier workloads would
        otherwise hide part of the per-connection cost)."""
        run([str(STACK_SH), "bridge-restart", str(self.stack.state)], timeout=120)
        time.sleep(1)
        return self.bridge_pid()

    def w_fanout(self):
        what = "fan-out to a %d-member group" % self.size["fan_n"]
        n, m = self.size["fan_n"], self.size["fan_m"]
        if not have("ws_load") or not have("ws_mktokens"):
            return self.unavailable("fanout", what, "ws_load/ws_mktokens missing")
        if not self.api.exists("POST", "/api/v1/messages"):
            return self.unavailable("fanout", what, "POST /api/v1/messages does not exist yet")
        gid, users = self.seed.mktokens(n, True, self.tmp("fan.tokens"))
        poster = users[0][1]

        def post_all():
            for i in range(m):
                st, doc = self.api.call("POST", "/api/v1/messages", {
                    "groupId": gid, "type": "TEXT", "content": "fan-out %d" % i}, token=poster)
                if st != 201:
                    raise RuntimeError("POST /messages: %s %s" % (st, json.dumps(doc)[:200]))

        self.check_load()
        with self.profile("fanout"):
            d = ws_fanout(self.stack.bridge_port, self.tmp("fan.tokens"), n, m, post_all)
        fps = d["frames_per_second"]
        rr, okr = verdict_ratio(fps, self.out.base.get("R", {}).get("value"), 0.6)
        rw, okw = verdict_ratio(fps, self.out.base.get("W", {}).get("value"), 0.8)
        ok = (okr is not False and okw is not False) if (okr is not None or okw is not None) else None
        self.out.add(Row("fanout", what, fps, "deliv/s", conc=n,
                         target=">= 0.6 x R, >= 0.8 x W",
                         ratio="%s R, %s W" % (rr or "-", rw or "-"), ok=ok,
                         note="%d messages posted over REST, first to last arrival" % m))

    def w_idle(self):
        what = "idle authenticated connections, one bridge"
        n = self.size["idle"]
        if not have("ws_load") or not have("ws_mktokens"):
            for rid in ("idle", "reconnect"):
                self.unavailable(rid, what, "ws_load/ws_mktokens missing")
            return
        _, users = self.seed.mktokens(n, False, self.tmp("idle.tokens"))
        hold = 35 if not self.args.quick else 6   # full: one heartbeat (30 s) inside
        pid = self.fresh_bridge()
        rss0 = rss_kb(pid)
        self.check_load()
        p = spawn([str(BIN / "ws_load"), "--url",
                              "ws://127.0.0.1:%d/ws" % self.stack.bridge_port,
                              "--tokens", self.tmp("idle.tokens"), "--conns", str(n),
                              "--procs", str(max(2, (n + 9499) // 9500)),
                              "--src", ",".join("127.0.0.%d" % i for i in range(2, 10)),
                              "--mode", "idle", "--hold", str(hold), "--storm",
                              "--timeout", "60"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out = []
        try:
            for line in p.stdout:
                out.append(line)
                if line.startswith("connected="):
                    break
            got = kv("".join(out))
            connected = int(got.get("connected", 0))
            time.sleep(2)       # let the bridge finish its bookkeeping
            rss1 = rss_kb(pid)
            with self.profile("idle"):
                c0, t0 = cpu_s(pid), time.time()
                time.sleep(hold - 4)
                cpu = (cpu_s(pid) - c0) / (time.time() - t0)
            with self.profile("reconnect"):
                for line in p.stdout:
                    out.append(line)
                    if line.startswith(("resumed=", "phase=timeout")):
                        break
            rest, _ = p.communicate(timeout=180)
            out.append(rest)
        finally:
            kill_group(p)
        d = kv("".join(out))
        per = (rss1 - rss0) / connected if connected else 0
        ok = connected >= min(n, 19000) and per <= 8 and cpu <= 0.05
        self.out.add(Row("idle", what, connected, "conns", conc=n,
                         target=">= %d, <= 8 KB each, CPU <= 5%%" % min(n, 19000),
                         ratio="%.1f KB, %.1f%% CPU" % (per, cpu * 100), ok=ok,
                         note="connected in %s s; bridge RSS %d -> %d KB; ws_load %s procs" % (
                             got.get("seconds"), rss0, rss1,
                             max(2, (n + 9499) // 9500))))
        if "storm_seconds" in d:
            secs = float(d["storm_seconds"])
            resumed = int(d.get("resumed", 0))
            self.out.add(Row("reconnect", "reconnect storm with resume, %d conns" % n, secs,
                             "s", conc=n, target="all resumed <= 5 s",
                             ratio="%d resumed" % resumed, ok=secs <= 5 and resumed >= connected,
                             note="all sockets closed at once, reconnected with ?since="))
        else:
            self.unavailable("reconnect", "reconnect storm with resume",
                             "storm did not complete: %s" % "".join(out)[-300:])

    def w_reconnect(self):
        if "idle" not in self.args.selected:
            self.w_idle()

    def w_typing(self):
        """10 % of the idle population typing in rooms of 10-100 members
        (everyone in one room, all online), typing:start every second for
        the storm, then typing:stop."""
        what = "typing storm"
        if not have("typing_storm") or not have("ws_mktokens"):
            return self.unavailable("typing", what, "typing_storm/ws_mktokens missing")
        n, secs = self.size["idle"], 10 if not self.args.quick else 6
        _, users = self.seed.mktokens(n, False, self.tmp("typing.users"))
        import random
        rnd = random.Random(6)
        order = list(range(n))
        rnd.shuffle(order)
        rooms, members, sizes, i = [], [], [], 0
        while i < n:
            size = min(rnd.randint(10, 100), n - i)
            gid = uuid7()
            rooms.append((gid, "typing bench %d" % len(rooms)))
            sizes.append((gid, order[i:i + size]))
            members += [(gid, users[u][0]) for u in order[i:i + size]]
            i += size
        self.stack.sql("INSERT INTO conversations (id, kind, title, visibility) "
                       "VALUES (%s, 'GROUP', %s, 'PRIVATE')", rooms, many=True)
        for j in range(0, len(members), 5000):
            self.stack.sql("INSERT INTO members (conversation_id, user_id) VALUES (%s, %s)",
                           members[j:j + 5000], many=True)
        typists = set(rnd.sample(range(n), n // 10))
        pid = self.fresh_bridge()
        room_of = {}
        for gid, idxs in sizes:
            for u in idxs:
                room_of[u] = gid
        lines = ["%s %s %s %d" % (users[u][0], users[u][1], room_of[u], u in typists)
                 for u in range(n)]
        pathlib.Path(self.tmp("typing.clients")).write_text("\n".join(lines) + "\n")
        # The most typing frames the rooms' online members may receive: per
        # typist, one start per 3 s of storm plus its stop (and an
        # auto-stop), to each other member of its room.
        per_typist = -(-secs // 3) + 2
        bound = sum(per_typist * (len(idxs) - 1) for gid, idxs in sizes
                    for u in idxs if u in typists)
        self.check_load()
        p = spawn([str(BIN / "typing_storm"), "--port", str(self.stack.bridge_port),
                              "--clients", self.tmp("typing.clients"),
                              "--procs", str(max(2, (n + 9499) // 9500)),
                              "--src", ",".join("127.0.0.%d" % k for k in range(10, 18)),
                              "--seconds", str(secs), "--timeout", "90"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        out = []
        try:
            for line in p.stdout:
                out.append(line)
                if line.strip() == "ready":
                    break
            got = kv("".join(out))
            if int(got.get("connected", 0)) < n:
                raise RuntimeError("only %s of %d typing clients connected" % (
                    got.get("connected"), n))
            time.sleep(3)           # let the presence frames of the log-in settle
            c_idle0, t_idle0 = cpu_s(pid), time.time()
            time.sleep(2)
            idle_cpu = (cpu_s(pid) - c_idle0) / (time.time() - t_idle0)
            with self.profile("typing"):
                c0, t0 = cpu_s(pid), time.time()
                p.stdin.write("go\n")
                p.stdin.flush()
                time.sleep(secs)
                cpu = (cpu_s(pid) - c0) / (time.time() - t0)
            rest, _ = p.communicate(timeout=120)
            out.append(rest)
        finally:
            kill_group(p)
        d = kv("".join(out))
        received, bad = int(d.get("received", 0)), int(d.get("bad", 0))
        ok = cpu <= 0.25 and bad == 0 and 0 < received <= bound
        self.out.add(Row("typing", "typing storm: %d of %d typing, %d rooms of 10-100" % (
            len(typists), n, len(rooms)), cpu * 100, "% CPU", conc=n,
            target="bridge CPU <= 25%, none beyond rooms",
            ratio="%d bad, %d/%d frames" % (bad, received, bound), ok=ok,
            note="typing:start every 1 s for %d s; %s sent; %.0f frames/s delivered, %.1f us "
            "of bridge CPU each; bridge CPU %.1f%% just before; frames counted against the most "
            "the rooms' online members may get" % (
                secs, d.get("sent"), received / float(secs),
                cpu * secs * 1e6 / received if received else 0, idle_cpu * 100)))

    # --- logins
    def w_login(self):
        """Logins offered open loop at twice the ceiling cores / K (what a
        crowd retrying after an outage looks like), /auth/me paced at a
        tenth of its capacity beside them (a probe: it measures the logins'
        effect on the API without taking much CPU from them), then compared
        with the same /auth/me schedule without logins."""
        what = "logins at saturation"
        if not self.ensure_accounts():
            return self.unavailable("login", what, self.seed.error)
        names = self.seed.bulk_users("bench_login_", self.size["login_users"])
        tok = self.tmp("me.tokens")
        pathlib.Path(tok).write_text(self.seed.tokens["bench_owner"] + "\n")
        ceiling = os.cpu_count() / (self.out.base["K"]["value"] / 1000.0)
        secs = self.size["wrk_secs"]
        rate = 0.10 * self.cache.get("me_rps", 4000)
        offered = 2 * ceiling
        quiet = paced(self.stack.port, rate, secs, 1, 16, "/api/v1/auth/me", tokens=tok)
        body = json.dumps({"login": "bench_login_{i}", "password": PASSWORD})
        self.check_load()
        cmd = [str(BIN / "paced"), "-a", "127.0.0.1:%d" % self.stack.port, "-d", str(secs),
               "-w", "1"]
        me = spawn(cmd + ["-r", "%.1f" % rate, "-c", "16", "-p", "/api/v1/auth/me",
                                     "-T", tok], stdout=subprocess.PIPE, text=True)
        lg = spawn(cmd + ["-r", "%.2f" % offered, "-c", "64", "-X", "POST",
                                     "-p", "/api/v1/auth/login", "-b", body,
                                     "-M", str(len(names))], stdout=subprocess.PIPE, text=True)
        try:
            with self.profile("login"):
                loaded = json.loads(me.communicate(timeout=secs + 60)[0].strip().splitlines()[-1])
            d = json.loads(lg.communicate(timeout=secs + 60)[0].strip().splitlines()[-1])
        finally:
            kill_group(me)
            kill_group(lg)
        logins = d["ok_after_warmup"] / float(secs)
        ratio = logins / ceiling
        p99x = loaded["p99_ms"] / quiet["p99_ms"] if quiet["p99_ms"] else 0
        self.out.add(Row("login", what, logins, "logins/s",
                         lat=(d["p50_ms"], d["p99_ms"], d["p999_ms"]), conc=64,
                         target=">= 0.9 x cores/K = %.1f/s" % (0.9 * ceiling),
                         ratio="%.2f" % ratio, ok=ratio >= 0.9,
                         note="offered open loop at %.1f/s (2 x cores/K); answers by status %s "
                         "(503 = hashing slots busy); latency over all answers" % (
                             offered, json.dumps(d.get("status", {})))))
        self.out.add(Row("me-ll", "GET /auth/me @ %s/s during the logins" % fmt_rate(rate),
                         loaded["achieved_per_s"], "req/s",
                         lat=(loaded["p50_ms"], loaded["p99_ms"], loaded["p999_ms"]), conc=16,
                         target="p99 <= 2 x unloaded (%s ms)" % fmt_ms(quiet["p99_ms"]),
                         ratio="%.2f x" % p99x, ok=p99x <= 2.0,
                         note="open loop; unloaded p50/p99/p99.9 %s/%s/%s ms" % (
                             fmt_ms(quiet["p50_ms"]), fmt_ms(quiet["p99_ms"]),
                             fmt_ms(quiet["p999_ms"]))))

    def measure(self, fn):
        """Runs fn() and returns (its result, a note on the MariaDB and
        memcached work per request) -- fn's result needs "requests"."""
        before = self.stack.counters()
        b0, t0 = cpu_times()
        marks = self.stack.cpu_marks()
        p0 = proc_cpu(marks)
        d = fn()
        p1 = proc_cpu(marks)
        b1, t1 = cpu_times()
        after = self.stack.counters()
        n = d.get("requests") or d.get("completed") or 0
        note = work_note(before, after, n)
        if t1 > t0:
            note += "; machine CPU %.0f%% busy" % (100.0 * (b1 - b0) / (t1 - t0))
        split = cpu_split_note(p0, p1, n)
        if split:
            note += "; " + split
        return d, note

    @staticmethod
    def err_note(d):
        bad = d["requests"] and d["errors"] / d["requests"]
        if d["errors"]:
            return "%d errors of %d requests (%d non-2xx)%s" % (
                d["errors"], d["requests"], d["err_status"],
                " -- figure counts 2xx only" if bad else "")
        return ""

    @staticmethod
    def paced_note(p):
        bits = []
        if p["non2xx"] or p["errors"]:
            bits.append("%d non-2xx %s, %d failed of %d" % (
                p["non2xx"], json.dumps(p.get("status", {})), p["errors"], p["scheduled"]))
        if p["achieved_per_s"] < 0.95 * p["rate"]:
            bits.append("could not keep the schedule (%.0f of %.0f/s)" % (
                p["achieved_per_s"], p["rate"]))
        return "; ".join(bits)

    # --- driver
    def setup(self):
        self.work = pathlib.Path(tempfile.mkdtemp(prefix="parley-bench-"))
        os.chmod(self.work, 0o755)
        self.stack = Stack(self.work / "stack", self.args.keep)
        self.stack.up()
        self.api = Api(self.stack.url)
        self.seed = Seed(self.stack, self.api)

    def teardown(self):
        if self.flt:
            self.flt.stop()
        if self.stack:
            self.stack.down()
        if self.work and not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)

    def run(self):
        sel = self.args.selected
        bases = [b for b in BASELINES if b in sel or
                 any(b in WORKLOADS[w][1] for w in sel if w in WORKLOADS)]
        for b in bases:
            log("baseline %s" % b)
            getattr(self, "base_" + b)()
        for w in WORKLOADS:
            if w in sel:
                log("workload %s" % w)
                fn = getattr(self, "w_" + w, None)
                if fn is None:
                    self.unavailable(w, WORKLOADS[w][0], "not written yet")
                    continue
                try:
                    fn()
                except Unavailable as e:
                    self.unavailable(w, WORKLOADS[w][0], str(e))
                except Exception as e:
                    log("workload %s failed: %s" % (w, e))
                    self.unavailable(w, WORKLOADS[w][0], "failed: %s" % str(e)[:300])


def wait_for_quiet(args):
    """Waits (up to 15 min) while other test runs or load generators run or
    the machine is otherwise busy (1-minute load average above half the
    cores)."""
    end = time.time() + (0 if args.no_wait else 900)
    while True:
        found = foreign_load()
        busy = loadavg() > 0.5 * os.cpu_count()
        if busy:
            found = found + ["loadavg %.2f" % loadavg()]
        if not found:
            return
        if time.time() >= end:
            args.load_seen += found
            log("other load still running (%s): measuring anyway, the table says so"
                % ", ".join(found))
            return
        log("waiting for other test runs / load generators to finish: %s" % ", ".join(found))
        time.sleep(15)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="reduced sizes, under 3 minutes")
    ap.add_argument("--keep", action="store_true", help="keep the stack and files afterwards")
    ap.add_argument("--no-build", action="store_true", help="do not run make first")
    ap.add_argument("--no-wait", action="store_true",
                    help="do not wait for other test runs to finish")
    ap.add_argument("--list", action="store_true", help="list workloads and baselines")
    ap.add_argument("--perf", action="store_true",
                    help="profile each workload with perf (figures drop; for evidence only)")
    ap.add_argument("names", nargs="*", metavar="NAME")
    args = ap.parse_args()
    if args.list:
        for w, (d, b) in WORKLOADS.items():
            print("%-10s %s (baselines: %s)" % (w, d, ", ".join(b) or "-"))
        print("baselines: %s" % ", ".join(BASELINES))
        return 0
    unknown = [n for n in args.names if n not in WORKLOADS and n not in BASELINES]
    if unknown:
        ap.error("unknown NAME %s (see --list)" % ", ".join(unknown))
    args.selected = set(args.names or (list(WORKLOADS) + BASELINES))
    args.command = os.environ.get("PARLEY_BENCH_COMMAND") or " ".join(
        ["tests/bench/run.py"] + sys.argv[1:])
    args.notes = []
    args.load_seen = []
    t0 = time.time()
    wait_for_quiet(args)
    args.load_start = loadavg()
    info = machine()
    bench = Bench(args)
    try:
        build(args)
        bench.setup()
        bench.run()
    finally:
        bench.teardown()
    bench.check_load()
    bench.out.print_table(info, time.time() - t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
