-- wrk script for tools/bench: PUTs one body to many grouping keys over keep-alive connections.
--
-- Arguments (after wrk's "--"): BODY_FILE CONTENT_TYPE CONTENT_ENCODING PATH_TEMPLATE GROUPS
-- [METHOD]. PATH_TEMPLATE contains "{N}", replaced by 0..GROUPS-1 in turn ("-" for no
-- Content-Encoding). Each thread pre-builds its requests (wrk's advice for fast servers) and
-- starts at a different offset so that threads spread over the groups.
-- done() prints one line "BENCH_RESULT {json}" with counts and latency percentiles (us);
-- every response that is not 2xx counts as an error (wrk itself only counts >399).

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("thread_index", thread_count)
  thread_count = thread_count + 1
  thread:set("thread_total", 0)  -- filled in below once all threads are known
  table.insert(threads, thread)
  for _, t in ipairs(threads) do t:set("thread_total", thread_count) end
end

local requests_ = {}
local next_ = 1
ok_2xx = 0
non_2xx = 0
statuses = {}

function init(args)
  local body_file, content_type, encoding, template = args[1], args[2], args[3], args[4]
  local groups = tonumber(args[5])
  local method = args[6] or "PUT"
  local f = assert(io.open(body_file, "rb"))
  local body = f:read("*a")
  f:close()
  local headers = {["Content-Type"] = content_type}
  if encoding ~= "-" then headers["Content-Encoding"] = encoding end
  local total = math.max(thread_total, 1)
  local start = math.floor(thread_index * groups / total)
  for i = 0, groups - 1 do
    local n = (start + i) % groups
    local path = template:gsub("{N}", tostring(n))
    requests_[i + 1] = wrk.format(method, path, headers, body)
  end
end

function request()
  local r = requests_[next_]
  next_ = next_ + 1
  if next_ > #requests_ then next_ = 1 end
  return r
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok_2xx = ok_2xx + 1
  else
    non_2xx = non_2xx + 1
    local key = tostring(status)
    statuses[key] = (statuses[key] or 0) + 1
  end
end

function done(summary, latency, requests)
  local ok, bad, by_status = 0, 0, {}
  for _, t in ipairs(threads) do
    ok = ok + t:get("ok_2xx")
    bad = bad + t:get("non_2xx")
    for k, v in pairs(t:get("statuses")) do by_status[k] = (by_status[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(by_status) do table.insert(parts, string.format('"%s":%d', k, v)) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"duration_us":%d,"requests":%d,"ok_2xx":%d,"non_2xx":%d,' ..
    '"non_2xx_by_status":{%s},"errors_connect":%d,"errors_read":%d,"errors_write":%d,' ..
    '"errors_timeout":%d,"latency_p50_us":%d,"latency_p90_us":%d,"latency_p99_us":%d,' ..
    '"latency_max_us":%d,"latency_mean_us":%.1f}\n',
    summary.duration, summary.requests, ok, bad, table.concat(parts, ","), e.connect, e.read,
    e.write, e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
