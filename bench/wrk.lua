-- wrk script of the benchmark: POST chat completions, one JSON summary line at the end.
--   wrk ... -s bench/wrk.lua URL -- PATH KEY MODEL MODE
-- MODE "unique": every request carries a prompt no other request had (a cache miss);
-- MODE "same": every request carries the same prompt (a cache hit after the first).

local path, key, model, mode = "/chat/completions", "", "fake-gpt", "unique"
local counter = 0
local thread_id = 0
local run_id = tostring(os.time())
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  path = args[1] or path
  key = args[2] or key
  model = args[3] or model
  mode = args[4] or mode
  math.randomseed(os.time() + thread_id)
  run_id = run_id .. "-" .. tostring(math.random(1, 1000000000))
end

function request()
  counter = counter + 1
  local prompt
  if mode == "same" then
    prompt = "the same question every time"
  else
    prompt = "benchmark " .. run_id .. " thread " .. thread_id .. " request " .. counter
  end
  local body = '{"model":"' .. model .. '","messages":[{"role":"user","content":"' .. prompt .. '"}]}'
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. key,
  }
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p95_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean, latency.max))
end
