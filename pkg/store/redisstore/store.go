// Package redisstore implements the bridge's Store on Redis (go-redis v9).
//
// Keys of one customer share the hash tag {customer id}, so every script
// runs on one Cluster slot:
//
//	<prefix>{U…}:chat    hash    the current chat record
//	<prefix>{U…}:log     stream  the event log (field "e" holds the event JSON)
//	<prefix>{U…}:cur     hash    consumer → cursor, consumer:plan → plan JSON
//	<prefix>{U…}:out     list    the outbox of customer messages
//	<prefix>{U…}:lease   string  the instance that drives the customer
//	<prefix>{U…}:hist    list    recent conversation with the bot
//
// and three global keys: <prefix>active (sorted set: customer → lease expiry
// in ms, the supervisor's index), <prefix>notify (pub/sub channel) and
// <prefix>once:<key> (de-duplication markers).
package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
)

// Options tune a Store.
type Options struct {
	// Prefix is put before every key (default "br:"). Tests use unique
	// prefixes to share one server.
	Prefix string
	// Retention is how long a customer's chat and log are kept after their
	// last change (default 7 days).
	Retention time.Duration
	// MaxLog caps each customer's log (approximately; default 2000).
	MaxLog int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Store is the Redis implementation of bridge.Store.
type Store struct {
	rdb    redis.UniversalClient
	origin string // tags this Store's notifications, so Subscribe skips them
	prefix string
	ttl    int64 // seconds
	maxLog string
	now    func() time.Time
}

var _ bridge.Store = (*Store)(nil)

// New returns a Store on rdb. The caller owns rdb and closes it.
func New(rdb redis.UniversalClient, o Options) *Store {
	if o.Prefix == "" {
		o.Prefix = "br:"
	}
	if o.Retention <= 0 {
		o.Retention = 7 * 24 * time.Hour
	}
	if o.MaxLog <= 0 {
		o.MaxLog = 2000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Store{rdb: rdb, origin: bridge.NewID(), prefix: o.Prefix, ttl: int64(o.Retention / time.Second), maxLog: strconv.Itoa(o.MaxLog), now: o.Now}
}

// Client returns the underlying client (for health checks).
func (s *Store) Client() redis.UniversalClient { return s.rdb }

func (s *Store) key(c bridge.CustomerID, what string) string {
	return s.prefix + "{" + string(c) + "}:" + what
}

func (s *Store) activeKey() string { return s.prefix + "active" }

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }

// Chat implements bridge.ChatStore.
func (s *Store) Chat(ctx context.Context, c bridge.CustomerID) (bridge.Chat, error) {
	m, err := s.rdb.HGetAll(ctx, s.key(c, "chat")).Result()
	if err != nil {
		return bridge.Chat{}, fmt.Errorf("redisstore: get chat: %w", err)
	}
	if len(m) == 0 || m["id"] == "" {
		return bridge.Chat{}, bridge.ErrNoChat
	}
	return decodeChat(c, m)
}

func decodeChat(c bridge.CustomerID, m map[string]string) (bridge.Chat, error) {
	ch := bridge.Chat{
		Customer:  c,
		ID:        bridge.ChatID(m["id"]),
		Status:    bridge.Status(m["status"]),
		Desk:      m["desk"],
		AgentName: m["agent_name"],
		EndReason: bridge.EndReason(m["end_reason"]),
	}
	if v := m["desk_state"]; v != "" {
		ch.DeskState = []byte(v)
	}
	if v := m["visitor"]; v != "" {
		if err := json.Unmarshal([]byte(v), &ch.Visitor); err != nil {
			return ch, fmt.Errorf("redisstore: decode visitor: %w", err)
		}
	}
	if v := m["file_req"]; v != "" {
		ch.FileRequest = new(bridge.FileRef)
		if err := json.Unmarshal([]byte(v), ch.FileRequest); err != nil {
			return ch, fmt.Errorf("redisstore: decode file request: %w", err)
		}
	}
	ch.CreatedAt = msTime(m["created_at"])
	ch.EstablishAt = msTime(m["established_at"])
	ch.EndedAt = msTime(m["ended_at"])
	ch.Version, _ = strconv.ParseInt(m["version"], 10, 64)
	return ch, nil
}

func msTime(s string) time.Time {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// BeginChat implements bridge.ChatStore.
func (s *Store) BeginChat(ctx context.Context, ch bridge.Chat) (bridge.Chat, error) {
	vis, err := json.Marshal(ch.Visitor)
	if err != nil {
		return bridge.Chat{}, fmt.Errorf("redisstore: encode visitor: %w", err)
	}
	if ch.CreatedAt.IsZero() {
		ch.CreatedAt = s.now()
	}
	ch.Status = bridge.StatusStarting
	ch.Version = 1
	args := []any{
		"id", string(ch.ID), "status", string(ch.Status), "desk", ch.Desk,
		"visitor", string(vis), "created_at", ms(ch.CreatedAt), "version", 1, "seq", 0,
	}
	c := ch.Customer
	keys := []string{s.key(c, "chat"), s.key(c, "log"), s.key(c, "cur"), s.key(c, "out")}
	ok, err := beginScript.Run(ctx, s.rdb, keys, args...).Int()
	if err != nil {
		return bridge.Chat{}, fmt.Errorf("redisstore: begin chat: %w", err)
	}
	if ok == 0 {
		open, err := s.Chat(ctx, c)
		if err != nil {
			return bridge.Chat{}, err
		}
		return open, bridge.ErrChatOpen
	}
	// Adoptable by anyone once the starting instance stops renewing.
	hint := float64(s.now().Add(30 * time.Second).UnixMilli())
	if err := s.rdb.ZAdd(ctx, s.activeKey(), redis.Z{Score: hint, Member: string(c)}).Err(); err != nil {
		return bridge.Chat{}, fmt.Errorf("redisstore: activate: %w", err)
	}
	return ch, nil
}

// Commit implements bridge.ChatStore.
func (s *Store) Commit(ctx context.Context, c bridge.CustomerID, cm bridge.Commit) (bridge.Chat, error) {
	var fields []string
	add := func(k, v string) { fields = append(fields, k, v) }
	now := s.now()
	if cm.Status != "" {
		add("!status", string(cm.Status))
		switch cm.Status {
		case bridge.StatusEstablished:
			add("!established_at", ms(now))
		case bridge.StatusEnded:
			add("!ended_at", ms(now))
		}
	}
	if cm.EndReason != "" {
		add("!end_reason", string(cm.EndReason))
	}
	if cm.DeskState != nil {
		add("desk_state", string(cm.DeskState))
	}
	if cm.AgentName != "" {
		add("agent_name", cm.AgentName)
	}
	if cm.FileRequest != nil {
		b, err := json.Marshal(cm.FileRequest)
		if err != nil {
			return bridge.Chat{}, fmt.Errorf("redisstore: encode file request: %w", err)
		}
		add("file_req", string(b))
	} else if cm.ClearFile {
		add("file_req", "")
	}
	deskSeq := cm.DeskSeq
	args := []any{string(cm.Chat), cm.Owner, cm.Version, deskSeq, s.maxLog, s.ttl, len(fields) / 2}
	for _, f := range fields {
		args = append(args, f)
	}
	args = append(args, len(cm.Events))
	for _, ev := range cm.Events {
		b, err := json.Marshal(ev)
		if err != nil {
			return bridge.Chat{}, fmt.Errorf("redisstore: encode event: %w", err)
		}
		ends := "0"
		if ev.Ends() {
			ends = "1"
		}
		args = append(args, ends, string(b))
	}
	if cm.Notify != 0 {
		args = append(args, s.notifyChannel(), s.notice(c, cm.Notify))
	} else {
		args = append(args, "", "")
	}
	keys := []string{s.key(c, "chat"), s.key(c, "log"), s.key(c, "lease")}
	res, err := commitScript.Run(ctx, s.rdb, keys, args...).Slice()
	if err != nil {
		return bridge.Chat{}, fmt.Errorf("redisstore: commit: %w", err)
	}
	code, _ := res[0].(string)
	switch code {
	case "STALE":
		return bridge.Chat{}, bridge.ErrStale
	case "FENCED":
		return bridge.Chat{}, bridge.ErrFenced
	}
	if len(res) < 2 {
		return bridge.Chat{}, fmt.Errorf("redisstore: commit: unexpected reply %v", res)
	}
	flat, _ := res[1].([]any)
	m := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		k, _ := flat[i].(string)
		v, _ := flat[i+1].(string)
		m[k] = v
	}
	return decodeChat(c, m)
}

// NextSeq implements bridge.ChatStore.
func (s *Store) NextSeq(ctx context.Context, c bridge.CustomerID) (int64, error) {
	n, err := s.rdb.HIncrBy(ctx, s.key(c, "chat"), "seq", 1).Result()
	if err != nil {
		return 0, fmt.Errorf("redisstore: next sequence: %w", err)
	}
	return n, nil
}

// Enqueue implements bridge.ChatStore.
func (s *Store) Enqueue(ctx context.Context, c bridge.CustomerID, id bridge.ChatID, ev bridge.Event) (bridge.Outgoing, error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return bridge.Outgoing{}, fmt.Errorf("redisstore: encode event: %w", err)
	}
	text, _ := json.Marshal(ev.Text)
	keys := []string{s.key(c, "chat"), s.key(c, "log"), s.key(c, "out")}
	res, err := enqueueScript.Run(ctx, s.rdb, keys, string(id), string(b), ev.ID, string(text), s.maxLog, s.ttl,
		s.notifyChannel(), s.notice(c, bridge.ChangedOutbox|bridge.ChangedLog)).StringSlice()
	if err != nil {
		return bridge.Outgoing{}, fmt.Errorf("redisstore: enqueue: %w", err)
	}
	switch res[0] {
	case "STALE":
		return bridge.Outgoing{}, bridge.ErrStale
	case "CLOSED":
		return bridge.Outgoing{}, bridge.ErrChatClosed
	}
	seq, _ := strconv.ParseInt(res[1], 10, 64)
	return bridge.Outgoing{ID: ev.ID, Seq: seq, Text: ev.Text}, nil
}

// OutboxHead implements bridge.ChatStore.
func (s *Store) OutboxHead(ctx context.Context, c bridge.CustomerID) (bridge.Outgoing, bool, error) {
	v, err := s.rdb.LIndex(ctx, s.key(c, "out"), 0).Result()
	if errors.Is(err, redis.Nil) {
		return bridge.Outgoing{}, false, nil
	}
	if err != nil {
		return bridge.Outgoing{}, false, fmt.Errorf("redisstore: outbox head: %w", err)
	}
	var o bridge.Outgoing
	if err := json.Unmarshal([]byte(v), &o); err != nil {
		return o, false, fmt.Errorf("redisstore: decode outbox item: %w", err)
	}
	return o, true, nil
}

// OutboxDone implements bridge.ChatStore.
func (s *Store) OutboxDone(ctx context.Context, c bridge.CustomerID, o bridge.Outgoing) (bridge.Outgoing, bool, error) {
	prefix := `{"id":"` + o.ID + `"`
	v, err := outboxDoneScript.Run(ctx, s.rdb, []string{s.key(c, "out")}, prefix).Text()
	if errors.Is(err, redis.Nil) {
		return bridge.Outgoing{}, false, nil
	}
	if err != nil {
		return bridge.Outgoing{}, false, fmt.Errorf("redisstore: outbox done: %w", err)
	}
	var next bridge.Outgoing
	if err := json.Unmarshal([]byte(v), &next); err != nil {
		return next, false, fmt.Errorf("redisstore: decode outbox item: %w", err)
	}
	return next, true, nil
}

// Once implements bridge.ChatStore.
func (s *Store) Once(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	ok, err := s.rdb.SetNX(ctx, s.prefix+"once:"+key, 1, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("redisstore: once: %w", err)
	}
	return ok, nil
}

// Remember implements bridge.ChatStore.
func (s *Store) Remember(ctx context.Context, c bridge.CustomerID, line string, max int) error {
	k := s.key(c, "hist")
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.RPush(ctx, k, line)
		p.LTrim(ctx, k, int64(-max), -1)
		p.Expire(ctx, k, time.Duration(s.ttl)*time.Second)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisstore: remember: %w", err)
	}
	return nil
}

// Recall implements bridge.ChatStore.
func (s *Store) Recall(ctx context.Context, c bridge.CustomerID) ([]string, error) {
	v, err := s.rdb.LRange(ctx, s.key(c, "hist"), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: recall: %w", err)
	}
	return v, nil
}

// nextID returns the smallest stream id after id.
func nextID(id string) string {
	if id == "" {
		return "-"
	}
	ms, seq, ok := strings.Cut(id, "-")
	if !ok {
		return id
	}
	n, err := strconv.ParseUint(seq, 10, 64)
	if err != nil {
		return id
	}
	return ms + "-" + strconv.FormatUint(n+1, 10)
}

// Read implements bridge.LogStore.
func (s *Store) Read(ctx context.Context, c bridge.CustomerID, after string, n int) ([]bridge.Event, error) {
	msgs, err := s.rdb.XRangeN(ctx, s.key(c, "log"), nextID(after), "+", int64(n)).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: read log: %w", err)
	}
	return decodeEvents(msgs)
}

func decodeEvents(msgs []redis.XMessage) ([]bridge.Event, error) {
	evs := make([]bridge.Event, 0, len(msgs))
	for _, m := range msgs {
		raw, _ := m.Values["e"].(string)
		var ev bridge.Event
		if err := json.Unmarshal([]byte(raw), &ev); err != nil {
			return nil, fmt.Errorf("redisstore: decode event %s: %w", m.ID, err)
		}
		ev.Cursor = m.ID
		evs = append(evs, ev)
	}
	return evs, nil
}

// Cursor implements bridge.LogStore.
func (s *Store) Cursor(ctx context.Context, c bridge.CustomerID, consumer string) (string, error) {
	v, err := s.rdb.HGet(ctx, s.key(c, "cur"), consumer).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("redisstore: cursor: %w", err)
	}
	return v, nil
}

// Pending implements bridge.LogStore.
func (s *Store) Pending(ctx context.Context, c bridge.CustomerID, consumer string, n int) (string, []bridge.Event, error) {
	res, err := pendingScript.Run(ctx, s.rdb, []string{s.key(c, "cur"), s.key(c, "log")}, consumer, n).Slice()
	if err != nil || len(res) != 2 {
		return "", nil, fmt.Errorf("redisstore: pending: %w (%d)", err, len(res))
	}
	cur, _ := res[0].(string)
	entries, _ := res[1].([]any)
	msgs := make([]redis.XMessage, 0, len(entries))
	for _, e := range entries {
		pair, _ := e.([]any)
		if len(pair) != 2 {
			continue
		}
		id, _ := pair[0].(string)
		fields, _ := pair[1].([]any)
		vals := make(map[string]any, len(fields)/2)
		for i := 0; i+1 < len(fields); i += 2 {
			k, _ := fields[i].(string)
			vals[k] = fields[i+1]
		}
		msgs = append(msgs, redis.XMessage{ID: id, Values: vals})
	}
	evs, err := decodeEvents(msgs)
	return cur, evs, err
}

// Advance implements bridge.LogStore.
func (s *Store) Advance(ctx context.Context, c bridge.CustomerID, consumer, from, to string) (bool, error) {
	n, err := advanceScript.Run(ctx, s.rdb, []string{s.key(c, "cur")}, consumer, from, to, s.ttl).Int()
	if err != nil {
		return false, fmt.Errorf("redisstore: advance: %w", err)
	}
	return n == 1, nil
}

// Transcript implements bridge.LogStore.
func (s *Store) Transcript(ctx context.Context, c bridge.CustomerID, id bridge.ChatID) ([]bridge.Event, error) {
	msgs, err := s.rdb.XRange(ctx, s.key(c, "log"), "-", "+").Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: transcript: %w", err)
	}
	all, err := decodeEvents(msgs)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, ev := range all {
		if ev.Chat == id {
			out = append(out, ev)
		}
	}
	return out, nil
}
