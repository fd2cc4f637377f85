-- One request against a quota window.
-- KEYS[1]: the count of this consumer, plan and period
-- ARGV[1]: the quota
-- ARGV[2]: the period's end, Unix seconds (the count expires then)
-- Returns what is left after this request, or -1 when none was left.
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local limit = tonumber(ARGV[1])
if used >= limit then
  return -1
end
used = redis.call('INCR', KEYS[1])
if used == 1 then
  redis.call('EXPIREAT', KEYS[1], ARGV[2])
end
return limit - used
