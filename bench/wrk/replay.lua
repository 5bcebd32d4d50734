-- Replay prepared requests: each wrk thread takes every n-th line of BENCH_REQUESTS and sends
-- them in order, so every request does distinct work (a new external_id, another instance, its
-- own claim token). A line is: METHOD \t PATH \t HEADERS \t BODY, where HEADERS is
-- "Name: value" pairs joined by "|". A thread that runs out starts over and counts a wrap:
-- fine for reads (BENCH_CYCLE=1), a flaw to report for writes.
-- done() prints one line "BENCH_JSON {...}": requests, latency percentiles (µs), statuses and
-- wraps. With BENCH_CAPTURE=path, the bodies of 2xx answers are written there, one a line.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local function split(line, sep)
  local out = {}
  local start = 1
  while true do
    local i = string.find(line, sep, start, true)
    if not i then
      table.insert(out, string.sub(line, start))
      return out
    end
    table.insert(out, string.sub(line, start, i - 1))
    start = i + 1
  end
end

local reqs = {}
local pos = 0

function init(args)
  statuses = {}
  wraps = 0
  captured = {}
  capture = os.getenv("BENCH_CAPTURE") ~= nil and os.getenv("BENCH_CAPTURE") ~= ""
  local nthreads = tonumber(os.getenv("BENCH_THREADS"))
  local n = 0
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    if n % nthreads == tid then
      local f = split(line, "\t")
      local headers = {}
      if f[3] ~= nil and f[3] ~= "" then
        for _, pair in ipairs(split(f[3], "|")) do
          local c = string.find(pair, ":", 1, true)
          headers[string.sub(pair, 1, c - 1)] = string.gsub(string.sub(pair, c + 1), "^%s+", "")
        end
      end
      local body = f[4]
      if body == "" then
        body = nil
      end
      table.insert(reqs, wrk.format(f[1], f[2], headers, body))
    end
    n = n + 1
  end
end

function request()
  pos = pos + 1
  if pos > #reqs then
    pos = 1
    wraps = wraps + 1
  end
  return reqs[pos]
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if capture and status >= 200 and status < 300 and body ~= nil then
    table.insert(captured, (string.gsub(body, "\n", " ")))
  end
end

function done(summary, latency, requests)
  local total = {}
  local wrapped = 0
  local out = nil
  local path = os.getenv("BENCH_CAPTURE")
  if path ~= nil and path ~= "" then
    out = io.open(path, "w")
  end
  for _, thread in ipairs(threads) do
    for code, count in pairs(thread:get("statuses")) do
      total[code] = (total[code] or 0) + count
    end
    wrapped = wrapped + thread:get("wraps")
    if out then
      for _, body in ipairs(thread:get("captured")) do
        out:write(body, "\n")
      end
    end
  end
  if out then
    out:close()
  end
  local parts = {}
  for code, count in pairs(total) do
    table.insert(parts, string.format('"%s": %d', code, count))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
      .. '"max_us": %d, "wraps": %d, "statuses": {%s}, "socket_errors": {"connect": %d, '
      .. '"read": %d, "write": %d, "timeout": %d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, wrapped, table.concat(parts, ", "),
    e.connect, e.read, e.write, e.timeout))
end
