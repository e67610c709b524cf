-- wrk script (`wrk -s bench/latency-tail.lua`, or WRK_SCRIPT=$PWD/bench/latency-tail.lua for
-- bench/http.sh): at the end, one line with the latency tail wrk's --latency leaves out: p99.9,
-- p99.99 and max, and about how many requests took more than 2, 5, 10, 20 and 40 ms. A few
-- stalls of the balancer's loop show as a max with small counts; a core shared with other work
-- (or a per-connection stall such as a delayed ACK) shows as counts in the thousands.
done = function(summary, latency, requests)
  local n = summary.requests
  local out = string.format("TAIL p50=%.2f p90=%.2f p99=%.2f p99.9=%.2f p99.99=%.2f max=%.2f ms",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, latency:percentile(99.99) / 1000, latency.max / 1000)
  -- wrk's lua sees percentiles, not counts: find the percentile at each bound by bisection
  for _, ms in ipairs({2, 5, 10, 20, 40}) do
    local lo, hi = 0, 100
    if latency.max <= ms * 1000 then lo = 100 else
      for _ = 1, 30 do
        local mid = (lo + hi) / 2
        if latency:percentile(mid) > ms * 1000 then hi = mid else lo = mid end
      end
    end
    out = out .. string.format(" >%dms=%d", ms, math.floor(n * (100 - lo) / 100 + 0.5))
  end
  io.write(out .. "\n")
end
