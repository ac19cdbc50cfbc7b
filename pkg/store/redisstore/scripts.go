package redisstore

import "github.com/redis/go-redis/v9"

// Every script touches only the keys of one customer (one hash tag), so the
// store works on Redis Cluster.

// beginScript starts a chat unless one is open.
// KEYS: chat, log, cursors, outbox. ARGV: field/value pairs.
var beginScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'status')
if st == 'starting' or st == 'requested' or st == 'established' then return 0 end
redis.call('DEL', KEYS[1], KEYS[4])
redis.call('HSET', KEYS[1], unpack(ARGV))
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
if #last > 0 then redis.call('HSET', KEYS[3], 'pull', last[1][1]) end
return 1
`)

// commitScript applies a Commit.
// KEYS: chat, log, lease.
// ARGV: 1 chat id, 2 owner, 3 version, 4 desk seq, 5 maxlen, 6 ttl seconds,
// 7 n fields, then field/value pairs (a field named "!x" is written only
// if the chat has not ended; a value "" deletes the field), then the number
// of events and (ends flag, json) pairs, then the notify channel ("" for
// none) and message. It returns {code, chat hash}.
var commitScript = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'id', 'status', 'version', 'desk_seq')
if cur[1] ~= ARGV[1] then return {'STALE'} end
if ARGV[2] ~= '' and redis.call('GET', KEYS[3]) ~= ARGV[2] then return {'FENCED'} end
if ARGV[3] ~= '0' and tonumber(ARGV[3]) ~= tonumber(cur[3] or '0') then return {'STALE'} end
local dseq = tonumber(ARGV[4])
if dseq >= 0 and cur[4] and tonumber(cur[4]) >= dseq then return {'DUP', redis.call('HGETALL', KEYS[1])} end
local ended = cur[2] == 'ended'
local i = 8
for _ = 1, tonumber(ARGV[7]) do
  local f, v = ARGV[i], ARGV[i + 1]
  i = i + 2
  local write = true
  if string.sub(f, 1, 1) == '!' then
    f = string.sub(f, 2)
    write = not ended
  end
  if write then
    if v == '' then redis.call('HDEL', KEYS[1], f) else redis.call('HSET', KEYS[1], f, v) end
  end
end
if dseq >= 0 then redis.call('HSET', KEYS[1], 'desk_seq', dseq) end
local n = tonumber(ARGV[i])
i = i + 1
for _ = 1, n do
  if not (ARGV[i] == '1' and ended) then
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'e', ARGV[i + 1])
  end
  i = i + 2
end
redis.call('HINCRBY', KEYS[1], 'version', 1)
local ttl = tonumber(ARGV[6])
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('EXPIRE', KEYS[2], ttl)
if ARGV[i] ~= '' then redis.call('PUBLISH', ARGV[i], ARGV[i + 1]) end
return {'OK', redis.call('HGETALL', KEYS[1])}
`)

// enqueueScript appends a customer message to the log and the outbox, and
// publishes the change. KEYS: chat, log, outbox. ARGV: 1 chat id, 2 event
// json, 3 event id, 4 text as a JSON string, 5 maxlen, 6 ttl seconds,
// 7 notify channel, 8 notify message.
var enqueueScript = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'id', 'status')
if not cur[1] then return {'CLOSED'} end
if cur[1] ~= ARGV[1] then return {'STALE'} end
if cur[2] ~= 'starting' and cur[2] ~= 'requested' and cur[2] ~= 'established' then return {'CLOSED'} end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'e', ARGV[2])
local item = '{"id":"' .. ARGV[3] .. '","seq":' .. seq .. ',"text":' .. ARGV[4] .. '}'
redis.call('RPUSH', KEYS[3], item)
local ttl = tonumber(ARGV[6])
redis.call('EXPIRE', KEYS[2], ttl)
redis.call('EXPIRE', KEYS[3], ttl)
redis.call('PUBLISH', ARGV[7], ARGV[8])
return {'OK', tostring(seq), id, item}
`)

// outboxDoneScript pops the outbox head if it is the given item, and
// returns the new head (or false). KEYS: outbox. ARGV: 1 prefix of the head
// ('{"id":"<id>"').
var outboxDoneScript = redis.NewScript(`
local head = redis.call('LINDEX', KEYS[1], 0)
if head and string.sub(head, 1, string.len(ARGV[1])) == ARGV[1] then
  redis.call('LPOP', KEYS[1])
  head = redis.call('LINDEX', KEYS[1], 0)
end
return head
`)

// advanceScript moves a cursor if it is where the caller thinks.
// KEYS: cursors. ARGV: 1 consumer, 2 from, 3 to, 4 ttl seconds.
var advanceScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if cur ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
`)

// renewScript extends a lease held by owner. KEYS: lease. ARGV: owner, ttl ms.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`)

// releaseScript deletes a lease held by owner. KEYS: lease. ARGV: owner.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// pendingScript reads a consumer's cursor and the events after it.
// KEYS: cursors, log. ARGV: 1 consumer, 2 count.
var pendingScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1]) or ''
local start = '-'
if cur ~= '' then
  local ms, sq = string.match(cur, '^(%d+)-(%d+)$')
  if ms then start = ms .. '-' .. (tonumber(sq) + 1) else start = cur end
end
return {cur, redis.call('XRANGE', KEYS[2], start, '+', 'COUNT', ARGV[2])}
`)
