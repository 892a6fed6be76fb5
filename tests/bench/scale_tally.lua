-- scale_tally.lua - wrk script for tests/bench/scale.py: the per-group tally
-- (GET <path>) under many concurrent group-admin credentials.
--
--   wrk -t2 -c200 -d20s --latency -s scale_tally.lua http://127.0.0.1:PORT \
--       -- TOKENS_FILE PATH
--
-- TOKENS_FILE: one bearer token per line (each a different group-admin
-- account), or "-" for no Authorization header (the /healthz floor).
-- PATH: the request path, e.g. /api/v1/broadcasts/3/groups.
--
-- wrk 4.1 has no per-connection hook, so the tokens are split between the
-- threads (thread k takes lines k, k+T, k+2T, ...) and each thread hands them
-- out round robin, one per request.  A thread's first request() calls are
-- made as its connections open, so with as many tokens as connections every
-- connection starts with its own token, and at any moment the requests in
-- flight carry about as many distinct tokens as there are connections.
--
-- SCALE_THINK_MS (environment, optional): each connection waits about that
-- long (uniformly 0.5x to 1.5x) between an answer and its next request, like
-- a console session refreshing the tally, instead of asking again at once.
-- wrk decides whether the script has a delay() when it loads it, so the
-- function exists only when a think time is set; wrk's latency is measured
-- from the request's write, so the wait is not part of it.
--
-- done() prints one line "SCALE_JSON {...}" (latencies in microseconds) that
-- scale.py reads instead of parsing wrk's human-readable summary.

local threads = {}
local counter = 0

function setup(thread)
    thread:set("index", counter)
    counter = counter + 1
    table.insert(threads, thread)
end

local tokens = {}
local next_token = 1
local path = "/"
statuses = {}   -- global: done() reads it with thread:get()

function init(args)
    local file = args[1] or "-"
    path = args[2] or "/"
    local nthreads = tonumber(args[3] or "1")
    local me = tonumber(index or 0)   -- set by setup() with thread:set()
    if file ~= "-" then
        local n = 0
        for line in io.lines(file) do
            if line ~= "" then
                if n % nthreads == me then
                    table.insert(tokens, line)
                end
                n = n + 1
            end
        end
        if #tokens == 0 and n > 0 then
            -- fewer tokens than threads: thread k shares line k mod n
            local k = 0
            for line in io.lines(file) do
                if line ~= "" then
                    if k == me % n then
                        table.insert(tokens, line)
                    end
                    k = k + 1
                end
            end
        end
        if #tokens == 0 then
            error("scale_tally.lua: no tokens in " .. file)
        end
    end
end

local think = tonumber(os.getenv("SCALE_THINK_MS") or "0") or 0
if think > 0 then
    function delay()
        return math.floor(think * (0.5 + math.random()))
    end
end

function request()
    local headers = {}
    if #tokens > 0 then
        headers["Authorization"] = "Bearer " .. tokens[next_token]
        next_token = next_token % #tokens + 1
    end
    return wrk.format("GET", path, headers)
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
end

-- done() runs in the main Lua state, which cannot see the threads'
-- counters directly: read each thread's table of status counts.
function done(summary, latency, requests)
    local st = {}
    for _, t in ipairs(threads) do
        local s = t:get("statuses")
        if s then
            for code, n in pairs(s) do
                local k = tostring(code)
                st[k] = (st[k] or 0) + n
            end
        end
    end
    local parts = {}
    for k, n in pairs(st) do
        table.insert(parts, string.format('"%s": %d', k, n))
    end
    local e = summary.errors
    io.write(string.format(
        'SCALE_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
        '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
        '"latency_us": {"min": %d, "mean": %.1f, "max": %d, "stdev": %.1f, ' ..
        '"p50": %d, "p75": %d, "p90": %d, "p99": %d, "p999": %d}, "statuses": {%s}}\n',
        summary.requests, summary.duration, summary.bytes,
        e.connect, e.read, e.write, e.status, e.timeout,
        latency.min, latency.mean, latency.max, latency.stdev,
        latency:percentile(50), latency:percentile(75), latency:percentile(90),
        latency:percentile(99), latency:percentile(99.9), table.concat(parts, ", ")))
end
