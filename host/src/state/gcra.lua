-- GCRA over one key, taking up to ARGV[3] tokens at once (a lease).
-- KEYS[1]: the key's theoretical arrival time (TAT), in microseconds of
--          the Redis server's clock, so every gateway shares one clock.
-- ARGV[1]: emission interval (microseconds per token)
-- ARGV[2]: tolerance (burst x emission interval)
-- ARGV[3]: tokens wanted
-- Returns {granted, wait_us, remaining}: wait_us until one token frees
-- when none was granted; remaining tokens in the burst after the grant.
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local emission = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then
  tat = now
end
local free = math.floor((now + tolerance - tat) / emission)
if free <= 0 then
  return {0, tat + emission - tolerance - now, 0}
end
local granted = math.min(free, wanted)
tat = tat + granted * emission
-- The key lives as long as it holds back anyone: until TAT, plus a second.
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
return {granted, 0, free - granted}
