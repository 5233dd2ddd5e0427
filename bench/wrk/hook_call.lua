-- wrk script: POSTs a CDS Hooks request body with a unique hookInstance on every call.
--
--   wrk -t2 -c8 -d10s -s bench/wrk/hook_call.lua http://127.0.0.1:8080/cds-services/order-sign-crd \
--       -- BODY_FILE [HEADER ...]
--
-- BODY_FILE: a JSON hook request (default: docs/examples/order-sign-florida-blue.json, relative
--   to the directory wrk runs in). Its "hookInstance" value is replaced on every call by
--   "<run>-<thread>-<n>": unique across threads, calls and runs, so that no call is answered
--   as an EHR retry. The body must contain a "hookInstance" member.
-- HEADER: extra request headers as "Name: value" (e.g. "Authorization: Bearer ...").
--
-- At the end one machine-readable line is printed (latencies in microseconds):
--   RESULT requests=<n> seconds=<s> rps=<calls/s> p50=<us> p90=<us> p99=<us> errors=<n> non2xx=<n>
-- errors counts connect/read/write errors, timeouts and non-2xx/3xx answers.

local threads = {}

-- Unique per run: a store keeps every hookInstance it has seen.
local function random_hex(bytes)
  local f = io.open("/dev/urandom", "rb")
  local raw = f:read(bytes)
  f:close()
  return (raw:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end
local run_id = random_hex(8)

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then error("cannot read " .. path .. ": " .. tostring(err)) end
  local data = f:read("*a")
  f:close()
  return data
end

function setup(thread)
  thread:set("tid", #threads + 1)
  thread:set("run", run_id)
  table.insert(threads, thread)
end

local prefix, suffix, counter, id_base

function init(args)
  local path = args[1] or "docs/examples/order-sign-florida-blue.json"
  local body = read_file(path)
  local s, e = body:find('"hookInstance"%s*:%s*"[^"]*"')
  if not s then error(path .. " has no \"hookInstance\" string member") end
  local head = body:sub(s, e):match('^("hookInstance"%s*:%s*")')
  prefix = body:sub(1, s - 1) .. head
  suffix = '"' .. body:sub(e + 1)
  counter = 0
  id_base = run .. "-" .. tid .. "-"
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  for i = 2, #args do
    local name, value = args[i]:match("^([^:]+):%s*(.*)$")
    if name then wrk.headers[name] = value end
  end
end

function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil, prefix .. id_base .. counter .. suffix)
end

function done(summary, latency, requests)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.timeout + e.status
  local seconds = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d seconds=%.3f rps=%.1f p50=%d p90=%d p99=%d errors=%d non2xx=%d\n",
    summary.requests, seconds, summary.requests / seconds, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), errors, e.status))
end
