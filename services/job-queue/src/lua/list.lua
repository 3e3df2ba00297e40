-- One page of a listing index, newest first, with bounded work: at most ARGV[4] entries are
-- read. Entries whose job hash has expired are removed as they are met.
-- KEYS: 1 listing index
-- ARGV: 1 job key prefix, 2 state ('' = any), 3 limit, 4 entries to read at most,
--       5 cursor score ('' = from the newest), 6 cursor member
-- Returns {next score, next member, job1 fields, job2 fields, ...}; next score '' = no more.
-- Byte order, as a sorted set orders equal scores (Lua's own comparison follows the locale).
local function before(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
local limit = tonumber(ARGV[3])
local budget = tonumber(ARGV[4])
local entries
if ARGV[5] == '' then
  entries = redis.call('ZREVRANGE', KEYS[1], 0, budget - 1, 'WITHSCORES')
else
  local rank = redis.call('ZREVRANK', KEYS[1], ARGV[6])
  local score = redis.call('ZSCORE', KEYS[1], ARGV[6])
  if rank and score and tonumber(score) == tonumber(ARGV[5]) then
    entries = redis.call('ZREVRANGE', KEYS[1], rank + 1, rank + budget, 'WITHSCORES')
  else
    -- The cursor's entry is gone: continue after its place (same score, smaller member).
    local ties = redis.call('ZCOUNT', KEYS[1], ARGV[5], ARGV[5])
    local found = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[5], '-inf', 'WITHSCORES',
      'LIMIT', 0, budget + ties)
    entries = {}
    for i = 1, #found, 2 do
      if not (tonumber(found[i + 1]) == tonumber(ARGV[5]) and not before(found[i], ARGV[6])) then
        entries[#entries + 1] = found[i]
        entries[#entries + 1] = found[i + 1]
      end
      if #entries >= 2 * budget then break end
    end
  end
end
local out = {'', ''}
local jobs = 0
local n = #entries / 2
for i = 1, n do
  local id, score = entries[2 * i - 1], entries[2 * i]
  local key = ARGV[1] .. id
  local status = redis.call('HGET', key, 'status')
  if not status then
    redis.call('ZREM', KEYS[1], id)
  elseif ARGV[2] == '' or status == ARGV[2] then
    local record = {}
    local fields = redis.call('HGETALL', key)
    for f = 1, #fields, 2 do
      if fields[f] ~= 'result' then
        record[#record + 1] = fields[f]
        record[#record + 1] = fields[f + 1]
      end
    end
    out[#out + 1] = record
    jobs = jobs + 1
  end
  -- More may follow when the page is full before the last entry read, or when every entry
  -- this call could read was read.
  if (jobs == limit and i < n) or (i == n and n == budget) then
    out[1] = score
    out[2] = id
    break
  end
  if jobs == limit then break end
end
return out
