-- wrk script for bench/receipts.py: a closed loop of `count` requests, then stop.
--
--   wrk -t1 -cC -d600s -s bench/wrk_post.lua URL -- COUNT [BODIES_FILE]
--
-- With BODIES_FILE (one request body per line) each request POSTs the next line as
-- JSON; without it each request is a GET of URL. Once every line has been sent, a
-- connection that is free again re-sends lines from the start (at most C - 1 of
-- them, the requests still in flight when the last answer comes): all are counted.
-- One thread only (-t1). It prints "START" as it makes its first request and "DONE"
-- at the COUNT-th answer, then stops; wrk itself runs on until -d or SIGINT, so the
-- caller times START to DONE and then interrupts it. done() prints one line:
-- "WRK {json}" with the answers, non-2xx (404 counted apart), socket errors and
-- latency percentiles in ms.

-- Globals, not locals: done() reads the thread's counters with thread:get().
bodies = {}
started = false
count = 0
next_line = 0
answered = 0
non_2xx = 0
not_found = 0
local thread_

function setup(thread)
  thread_ = thread
end

function init(args)
  count = tonumber(args[1])
  if args[2] then
    for line in io.lines(args[2]) do
      bodies[#bodies + 1] = line
    end
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
  end
end

function request()
  if next_line == 0 and not started then
    started = true
    io.write("START\n")
    io.flush()
  end
  if #bodies == 0 then
    return wrk.format()
  end
  next_line = next_line % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[next_line])
end

function response(status, headers, body)
  answered = answered + 1
  if status == 404 then
    not_found = not_found + 1
  elseif status < 200 or status > 299 then
    non_2xx = non_2xx + 1
  end
  if answered == count then
    io.write("DONE\n")
    io.flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local t = thread_
  local ms = function(p) return latency:percentile(p) / 1000 end
  io.write(string.format(
    'WRK {"answers": %d, "non_2xx": %d, "not_found": %d, ' ..
    '"socket_errors": %d, "p50_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f}\n',
    t:get("answered"), t:get("non_2xx"), t:get("not_found"),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    ms(50), ms(99), latency.max / 1000))
end
