package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// The Redis layout, every key under the hash tag "{prefix}:":
//
//	evt:<event id>          string  the event record (JSON), TTL Retention
//	dlv:<delivery id>       hash    one delivery: endpoint, event, type, lane, customer, status,
//	                                attempts, next_at, token (lease), last_*; TTL Retention once final
//	lane:<endpoint>|<chat>  list    the lane's deliveries in order; the head is the one attempted
//	ready                   zset    lanes whose head waits, scored by when it is due (ms)
//	inflight                zset    lanes whose head is being attempted, scored by lease expiry (ms)
//	parked:<endpoint>       set     lanes of a disabled endpoint, resumed by enable
//	ep:<endpoint>           hash    disabled, disabled_reason, disabled_at, failures, pending,
//	                                last_success_at, last_failure_at
//	log:<endpoint>          list    the delivery log, newest first, capped at LogSize
//
// A lane is in at most one of ready, inflight and parked, and only while its
// list is not empty. The scripts below keep that true; each runs atomically.

// Delivery statuses.
const (
	StatusPending    = "pending"    // waiting for its first attempt
	StatusDelivering = "delivering" // being attempted (leased)
	StatusRetrying   = "retrying"   // failed, next attempt scheduled
	StatusSucceeded  = "succeeded"  // a 2xx answer
	StatusFailed     = "failed"     // attempts exhausted, 410, refused, or given up
)

var enqueueScript = redis.NewScript(`
local P = ARGV[1]
local now, ttl, ne = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local i = 5
for _ = 1, ne do
  redis.call('SET', P..'evt:'..ARGV[i], ARGV[i+1], 'NX', 'PX', ttl)
  i = i + 2
end
local n = 0
while i <= #ARGV do
  local id, lane, ep, evt, typ, cust = ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3], ARGV[i+4], ARGV[i+5]
  i = i + 6
  local dk = P..'dlv:'..id
  if redis.call('EXISTS', dk) == 0 and redis.call('HGET', P..'ep:'..ep, 'disabled') ~= '1' then
    redis.call('HSET', dk, 'endpoint', ep, 'event', evt, 'type', typ, 'lane', lane, 'customer', cust,
      'status', 'pending', 'attempts', 0, 'created', now, 'next_at', now)
    if redis.call('RPUSH', P..'lane:'..lane, id) == 1 then
      redis.call('ZADD', KEYS[1], now, lane)
    end
    redis.call('HINCRBY', P..'ep:'..ep, 'pending', 1)
    n = n + 1
  end
end
return n
`)

var claimScript = redis.NewScript(`
local P = ARGV[1]
local now, lease, token, scan = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local infl = P..'inflight'
for _, lane in ipairs(redis.call('ZRANGEBYSCORE', infl, '-inf', now, 'LIMIT', 0, 100)) do
  redis.call('ZREM', infl, lane)
  redis.call('ZADD', KEYS[1], now, lane)
end
for _, lane in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, scan)) do
  redis.call('ZREM', KEYS[1], lane)
  local ep = string.match(lane, '^([^|]*)|')
  local id = redis.call('LINDEX', P..'lane:'..lane, 0)
  if id then
    if redis.call('HGET', P..'ep:'..ep, 'disabled') == '1' then
      redis.call('SADD', P..'parked:'..ep, lane)
    else
      redis.call('ZADD', infl, now + lease, lane)
      local dk = P..'dlv:'..id
      local a = redis.call('HINCRBY', dk, 'attempts', 1)
      redis.call('HSET', dk, 'status', 'delivering', 'token', token)
      return {lane, id, a}
    end
  end
end
return false
`)

// completeScript ends an attempt if the caller still holds its lease.
// outcome: retrying (again at ARGV[6]), release (again now, attempt not
// counted), succeeded, failed.
var completeScript = redis.NewScript(`
local P = ARGV[1]
local lane, id, token, outcome, at, now, ttl = ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local dk = P..'dlv:'..id
if redis.call('HGET', dk, 'token') ~= token then return 0 end
redis.call('HDEL', dk, 'token')
redis.call('ZREM', P..'inflight', lane)
if outcome == 'release' then
  redis.call('HINCRBY', dk, 'attempts', -1)
  local st = 'retrying'
  if redis.call('HGET', dk, 'attempts') == '0' then st = 'pending' end
  redis.call('HSET', dk, 'status', st, 'next_at', now)
  redis.call('ZADD', KEYS[1], now, lane)
  return 1
end
redis.call('HSET', dk, 'last_at', now, 'last_code', ARGV[9], 'last_error', ARGV[10])
if outcome == 'retrying' then
  redis.call('HSET', dk, 'status', 'retrying', 'next_at', at)
  redis.call('ZADD', KEYS[1], at, lane)
  return 1
end
redis.call('HSET', dk, 'status', outcome)
redis.call('PEXPIRE', dk, ttl)
local lk = P..'lane:'..lane
redis.call('LREM', lk, 1, id)
redis.call('HINCRBY', P..'ep:'..redis.call('HGET', dk, 'endpoint'), 'pending', -1)
if redis.call('LLEN', lk) > 0 then redis.call('ZADD', KEYS[1], now, lane) end
return 1
`)

var disableScript = redis.NewScript(`
local P = ARGV[1]
local k = P..'ep:'..ARGV[2]
if redis.call('HGET', k, 'disabled') == '1' then return 0 end
redis.call('HSET', k, 'disabled', '1', 'disabled_reason', ARGV[3], 'disabled_at', ARGV[4])
return 1
`)

var enableScript = redis.NewScript(`
local P = ARGV[1]
local k = P..'ep:'..ARGV[2]
redis.call('HSET', k, 'disabled', '0', 'failures', 0)
redis.call('HDEL', k, 'disabled_reason', 'disabled_at')
local pk = P..'parked:'..ARGV[2]
local lanes = redis.call('SMEMBERS', pk)
for _, lane in ipairs(lanes) do redis.call('ZADD', KEYS[1], tonumber(ARGV[3]), lane) end
redis.call('DEL', pk)
return #lanes
`)

var redeliverScript = redis.NewScript(`
local P = ARGV[1]
local id, now = ARGV[2], tonumber(ARGV[3])
local dk = P..'dlv:'..id
if redis.call('EXISTS', dk) == 0 then return 'not_found' end
local st = redis.call('HGET', dk, 'status')
if st ~= 'succeeded' and st ~= 'failed' then return 'busy' end
if redis.call('EXISTS', P..'evt:'..redis.call('HGET', dk, 'event')) == 0 then return 'expired' end
local ep = redis.call('HGET', dk, 'endpoint')
if redis.call('HGET', P..'ep:'..ep, 'disabled') == '1' then return 'disabled' end
redis.call('PERSIST', dk)
redis.call('HSET', dk, 'status', 'pending', 'attempts', 0, 'next_at', now)
local lane = redis.call('HGET', dk, 'lane')
if redis.call('RPUSH', P..'lane:'..lane, id) == 1 then redis.call('ZADD', KEYS[1], now, lane) end
redis.call('HINCRBY', P..'ep:'..ep, 'pending', 1)
return 'ok'
`)

// queue is the Redis side of the dispatcher.
type queue struct {
	rdb       redis.UniversalClient
	p         string // "{prefix}:"
	retention time.Duration
	logSize   int
}

func (q *queue) key(name string) string { return q.p + name }
func (q *queue) ready() []string        { return []string{q.p + "ready"} }

// dlvSpec is one delivery to enqueue.
type dlvSpec struct {
	ID, Lane, Endpoint, EventID, Type, Customer string
}

// enqueue stores the records (if new) and the deliveries (if new), in one
// atomic step. It returns how many deliveries were new.
func (q *queue) enqueue(ctx context.Context, now time.Time, recs []*record, ds []dlvSpec) (int, error) {
	if len(ds) == 0 {
		return 0, nil
	}
	args := []any{q.p, now.UnixMilli(), q.retention.Milliseconds(), len(recs)}
	for _, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			return 0, fmt.Errorf("events: encode %s: %w", r.Type, err)
		}
		args = append(args, r.ID, b)
	}
	for _, d := range ds {
		args = append(args, d.ID, d.Lane, d.Endpoint, d.EventID, d.Type, d.Customer)
	}
	n, err := enqueueScript.Run(ctx, q.rdb, q.ready(), args...).Int()
	if err != nil {
		return 0, fmt.Errorf("events: enqueue: %w", err)
	}
	return n, nil
}

// claimed is a leased attempt.
type claimed struct {
	Lane, ID string
	Attempt  int
	Token    string
}

// claim leases the next due delivery, or returns nil.
func (q *queue) claim(ctx context.Context, now time.Time, lease time.Duration, token string) (*claimed, error) {
	v, err := claimScript.Run(ctx, q.rdb, q.ready(), q.p, now.UnixMilli(), lease.Milliseconds(), token, 20).Slice()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("events: claim: %w", err)
	}
	if len(v) != 3 {
		return nil, fmt.Errorf("events: claim: unexpected reply %v", v)
	}
	c := &claimed{Token: token}
	c.Lane, _ = v[0].(string)
	c.ID, _ = v[1].(string)
	a, _ := v[2].(int64)
	c.Attempt = int(a)
	return c, nil
}

// complete ends an attempt; ok is false if the lease was lost meanwhile.
func (q *queue) complete(ctx context.Context, c *claimed, outcome string, at, now time.Time, code int, errText string) (ok bool, err error) {
	n, err := completeScript.Run(ctx, q.rdb, q.ready(), q.p, c.Lane, c.ID, c.Token, outcome,
		at.UnixMilli(), now.UnixMilli(), q.retention.Milliseconds(), code, errText).Int()
	if err != nil {
		return false, fmt.Errorf("events: complete: %w", err)
	}
	return n == 1, nil
}

// nextDue is when the earliest waiting lane is due (ok false if none).
func (q *queue) nextDue(ctx context.Context) (time.Time, bool, error) {
	zs, err := q.rdb.ZRangeWithScores(ctx, q.key("ready"), 0, 0).Result()
	if err != nil || len(zs) == 0 {
		return time.Time{}, false, err
	}
	return time.UnixMilli(int64(zs[0].Score)), true, nil
}

// load returns a delivery's fields and its event record (nil if expired).
func (q *queue) load(ctx context.Context, id string) (map[string]string, *record, error) {
	f, err := q.rdb.HGetAll(ctx, q.key("dlv:"+id)).Result()
	if err != nil {
		return nil, nil, fmt.Errorf("events: load delivery: %w", err)
	}
	if len(f) == 0 {
		return nil, nil, ErrNotFound
	}
	b, err := q.rdb.Get(ctx, q.key("evt:"+f["event"])).Bytes()
	if errors.Is(err, redis.Nil) {
		return f, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("events: load event: %w", err)
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return f, nil, fmt.Errorf("events: decode event: %w", err)
	}
	return f, &r, nil
}

func (q *queue) disable(ctx context.Context, ep, reason string, now time.Time) (bool, error) {
	n, err := disableScript.Run(ctx, q.rdb, q.ready(), q.p, ep, reason, now.UnixMilli()).Int()
	return n == 1, err
}

func (q *queue) enable(ctx context.Context, ep string, now time.Time) error {
	return enableScript.Run(ctx, q.rdb, q.ready(), q.p, ep, now.UnixMilli()).Err()
}

func (q *queue) redeliver(ctx context.Context, id string, now time.Time) error {
	s, err := redeliverScript.Run(ctx, q.rdb, q.ready(), q.p, id, now.UnixMilli()).Text()
	if err != nil {
		return fmt.Errorf("events: redeliver: %w", err)
	}
	switch s {
	case "ok":
		return nil
	case "not_found":
		return ErrNotFound
	case "busy":
		return ErrBusy
	case "expired":
		return ErrEventExpired
	case "disabled":
		return ErrEndpointDisabled
	}
	return fmt.Errorf("events: redeliver: unexpected %q", s)
}

// record appends an attempt to the endpoint's log and updates its health.
func (q *queue) logAttempt(ctx context.Context, a Attempt) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	epk, lk := q.key("ep:"+a.Endpoint), q.key("log:"+a.Endpoint)
	ms := strconv.FormatInt(a.Time.UnixMilli(), 10)
	_, err = q.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.LPush(ctx, lk, b)
		p.LTrim(ctx, lk, 0, int64(q.logSize-1))
		if a.Success {
			p.HSet(ctx, epk, "failures", 0, "last_success_at", ms)
		} else {
			p.HIncrBy(ctx, epk, "failures", 1)
			p.HSet(ctx, epk, "last_failure_at", ms)
		}
		return nil
	})
	return err
}

func (q *queue) readLog(ctx context.Context, ep string, n int) ([]Attempt, error) {
	raw, err := q.rdb.LRange(ctx, q.key("log:"+ep), 0, int64(n-1)).Result()
	if err != nil {
		return nil, err
	}
	out := make([]Attempt, 0, len(raw))
	for _, s := range raw {
		var a Attempt
		if json.Unmarshal([]byte(s), &a) == nil {
			out = append(out, a)
		}
	}
	return out, nil
}

func (q *queue) endpointState(ctx context.Context, ep string) (map[string]string, error) {
	return q.rdb.HGetAll(ctx, q.key("ep:"+ep)).Result()
}
