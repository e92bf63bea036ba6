-- One hit against every limit of every scope, atomically (see keystore/ratelimit.py).
--
-- KEYS[i]  the storage key of check i
-- ARGV[1]  now, in milliseconds since the epoch
-- ARGV[2]  a member unique to this hit (rate windows are sorted sets of hits)
-- ARGV[3]  grace in milliseconds added to a quota bucket's expiry (clock skew between hosts)
-- then three values per check:
--   "r", limit, window_ms         sliding-window log: hits in (now - window, now]
--   "q", limit, bucket_end_ms     calendar bucket counter that expires after its period
--
-- Returns {allowed (1/0), {count before this hit, ...}, {free_at_ms, ...}}.  free_at is
-- when check i frees a slot: for a rate, when the oldest hit that matters leaves the
-- window; for a quota, the end of its bucket.  Nothing is counted unless every check
-- passes, so a refused request never consumes quota.

local now = tonumber(ARGV[1])
local member = ARGV[2]
local grace = tonumber(ARGV[3])
local counts, free = {}, {}
local allowed = 1

local function spec(i)
  local base = 3 + (i - 1) * 3
  return ARGV[base + 1], tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3])
end

for i, key in ipairs(KEYS) do
  local kind, limit, span = spec(i)
  if kind == "r" then
    redis.call("ZREMRANGEBYSCORE", key, "-inf", now - span)
    local count = redis.call("ZCARD", key)
    -- When full, the hit that must leave before one more fits is the (count-limit)th oldest.
    local index = 0
    if count >= limit then index = count - limit end
    local entry = redis.call("ZRANGE", key, index, index, "WITHSCORES")
    if entry[2] then free[i] = tonumber(entry[2]) + span else free[i] = now + span end
    counts[i] = count
  else
    counts[i] = tonumber(redis.call("GET", key) or "0")
    free[i] = span
  end
  if counts[i] >= limit then allowed = 0 end
end

if allowed == 1 then
  for i, key in ipairs(KEYS) do
    local kind, _, span = spec(i)
    if kind == "r" then
      redis.call("ZADD", key, now, member)
      redis.call("PEXPIRE", key, span)
    else
      redis.call("INCR", key)
      redis.call("PEXPIREAT", key, span + grace)
    end
  end
end

return {allowed, counts, free}
