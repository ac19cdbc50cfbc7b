package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
)

// Acquire implements bridge.LeaseStore.
func (s *Store) Acquire(ctx context.Context, c bridge.CustomerID, owner string, ttl time.Duration) (bool, error) {
	ok, err := s.rdb.SetNX(ctx, s.key(c, "lease"), owner, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("redisstore: acquire lease: %w", err)
	}
	if ok {
		hint := float64(s.now().Add(ttl).UnixMilli())
		if err := s.rdb.ZAddXX(ctx, s.activeKey(), redis.Z{Score: hint, Member: string(c)}).Err(); err != nil {
			return true, fmt.Errorf("redisstore: lease hint: %w", err)
		}
	}
	return ok, nil
}

// Renew implements bridge.LeaseStore.
func (s *Store) Renew(ctx context.Context, owner string, cs []bridge.CustomerID, ttl time.Duration) ([]bridge.CustomerID, error) {
	if len(cs) == 0 {
		return nil, nil
	}
	ttlMS := strconv.FormatInt(ttl.Milliseconds(), 10)
	hint := float64(s.now().Add(ttl).UnixMilli())
	cmds := make([]*redis.Cmd, len(cs))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range cs {
			cmds[i] = renewScript.EvalSha(ctx, p, []string{s.key(c, "lease")}, owner, ttlMS)
		}
		return nil
	})
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		if err := renewScript.Load(ctx, s.rdb).Err(); err != nil {
			return nil, fmt.Errorf("redisstore: load renew script: %w", err)
		}
		return s.Renew(ctx, owner, cs, ttl)
	}
	if err != nil && err != redis.Nil {
		return nil, fmt.Errorf("redisstore: renew leases: %w", err)
	}
	var lost []bridge.CustomerID
	var kept []redis.Z
	for i, cmd := range cmds {
		if n, _ := cmd.Int(); n == 1 {
			kept = append(kept, redis.Z{Score: hint, Member: string(cs[i])})
		} else {
			lost = append(lost, cs[i])
		}
	}
	if len(kept) > 0 {
		if err := s.rdb.ZAddXX(ctx, s.activeKey(), kept...).Err(); err != nil {
			return lost, fmt.Errorf("redisstore: lease hints: %w", err)
		}
	}
	return lost, nil
}

// Release implements bridge.LeaseStore.
func (s *Store) Release(ctx context.Context, c bridge.CustomerID, owner string, active bool) error {
	if err := releaseScript.Run(ctx, s.rdb, []string{s.key(c, "lease")}, owner).Err(); err != nil {
		return fmt.Errorf("redisstore: release lease: %w", err)
	}
	if active {
		if err := s.rdb.ZAddXX(ctx, s.activeKey(), redis.Z{Score: 0, Member: string(c)}).Err(); err != nil {
			return fmt.Errorf("redisstore: release hint: %w", err)
		}
	}
	return nil
}

// Deactivate implements bridge.LeaseStore.
func (s *Store) Deactivate(ctx context.Context, c bridge.CustomerID) error {
	if err := s.rdb.ZRem(ctx, s.activeKey(), string(c)).Err(); err != nil {
		return fmt.Errorf("redisstore: deactivate: %w", err)
	}
	return nil
}

// Orphans implements bridge.LeaseStore.
func (s *Store) Orphans(ctx context.Context, limit int) ([]bridge.CustomerID, error) {
	now := strconv.FormatInt(s.now().UnixMilli(), 10)
	v, err := s.rdb.ZRangeByScore(ctx, s.activeKey(), &redis.ZRangeBy{Min: "-inf", Max: now, Count: int64(limit)}).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: orphans: %w", err)
	}
	out := make([]bridge.CustomerID, len(v))
	for i, c := range v {
		out[i] = bridge.CustomerID(c)
	}
	return out, nil
}

// ActiveCount implements bridge.LeaseStore.
func (s *Store) ActiveCount(ctx context.Context) (int64, error) {
	n, err := s.rdb.ZCard(ctx, s.activeKey()).Result()
	if err != nil {
		return 0, fmt.Errorf("redisstore: active count: %w", err)
	}
	return n, nil
}

// Active implements bridge.LeaseStore.
func (s *Store) Active(ctx context.Context, limit int) ([]bridge.CustomerID, error) {
	v, err := s.rdb.ZRange(ctx, s.activeKey(), 0, int64(limit)-1).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: active: %w", err)
	}
	out := make([]bridge.CustomerID, len(v))
	for i, c := range v {
		out[i] = bridge.CustomerID(c)
	}
	return out, nil
}

func (s *Store) notifyChannel() string { return s.prefix + "notify" }

// notice is a notification message: "<customer>|<change>|<origin>".
func (s *Store) notice(c bridge.CustomerID, what bridge.Change) string {
	return string(c) + "|" + strconv.Itoa(int(what)) + "|" + s.origin
}

// Publish implements bridge.Notifier.
func (s *Store) Publish(ctx context.Context, c bridge.CustomerID, what bridge.Change) error {
	if err := s.rdb.Publish(ctx, s.notifyChannel(), s.notice(c, what)).Err(); err != nil {
		return fmt.Errorf("redisstore: publish: %w", err)
	}
	return nil
}

// parseNotice splits a notification; one without a change means all.
func parseNotice(msg string) (c bridge.CustomerID, what bridge.Change, origin string) {
	rest := msg
	if i := strings.LastIndexByte(rest, '|'); i >= 0 && strings.Count(rest, "|") >= 2 {
		origin, rest = rest[i+1:], rest[:i]
	}
	if i := strings.LastIndexByte(rest, '|'); i >= 0 {
		if n, err := strconv.Atoi(rest[i+1:]); err == nil && n > 0 && n <= int(bridge.ChangedAll) {
			return bridge.CustomerID(rest[:i]), bridge.Change(n), origin
		}
	}
	return bridge.CustomerID(msg), bridge.ChangedAll, ""
}

// Subscribe implements bridge.Notifier. Notifications this Store published
// (from Publish, Commit or Enqueue) are not passed to fn: the instance that
// made a change reacts to it directly.
func (s *Store) Subscribe(ctx context.Context, fn func(bridge.CustomerID, bridge.Change)) (func() error, error) {
	ps := s.rdb.Subscribe(ctx, s.notifyChannel())
	if _, err := ps.Receive(ctx); err != nil {
		_ = ps.Close()
		return nil, fmt.Errorf("redisstore: subscribe: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ch := ps.Channel(redis.WithChannelSize(1024))
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				c, what, origin := parseNotice(m.Payload)
				if origin == s.origin {
					continue // published by this Store's user, which has already reacted
				}
				fn(c, what)
			}
		}
	}()
	return func() error {
		<-done
		return ps.Close()
	}, nil
}
