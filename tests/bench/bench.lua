-- bench.lua - the one wrk script of the benchmark suite (tests/bench/run.py).
--
-- Environment:
--   BENCH_METHOD   GET (default), POST, ...
--   BENCH_BODY     request body (JSON); "{n}" becomes a token unique to the
--                  request (for clientId fields)
--   BENCH_TOKENS   file with one bearer token per line; requests rotate
--                  through them
--   BENCH_RUNID    prefix of the unique tokens (default: the time)
--
-- With one token and a body without {n}, wrk sends one pre-built request
-- (no Lua per request); otherwise request() builds each one.
-- done() prints one line "BENCHJSON {...}" with the request count,
-- duration, errors and latency percentiles in microseconds.

local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
local tokfile = os.getenv("BENCH_TOKENS")
local runid = os.getenv("BENCH_RUNID") or tostring(os.time())
local tokens = {}

if tokfile and #tokfile > 0 then
	for line in io.lines(tokfile) do
		if #line > 0 then tokens[#tokens + 1] = line end
	end
end

local counter = 0
local nthread = 0

function setup(thread)
	nthread = nthread + 1
	thread:set("tid", nthread)
end

if #tokens > 1 or (body and body:find("{n}", 1, true)) then
	request = function()
		counter = counter + 1
		local h = {}
		if #tokens > 0 then
			h["Authorization"] = "Bearer " .. tokens[(counter % #tokens) + 1]
		end
		local b = nil
		if body then
			h["Content-Type"] = "application/json"
			b = (body:gsub("{n}", runid .. "-" .. tostring(tid) .. "-" .. counter))
		end
		return wrk.format(method, nil, h, b)
	end
else
	wrk.method = method
	if #tokens == 1 then
		wrk.headers["Authorization"] = "Bearer " .. tokens[1]
	end
	if body then
		wrk.body = body
		wrk.headers["Content-Type"] = "application/json"
	end
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
		'"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,' ..
		'"err_timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
		'"p999_us":%d,"max_us":%d}\n',
		summary.requests, summary.duration, summary.bytes,
		e.connect, e.read, e.write, e.status, e.timeout,
		latency:percentile(50), latency:percentile(90),
		latency:percentile(99), latency:percentile(99.9), latency.max))
end
