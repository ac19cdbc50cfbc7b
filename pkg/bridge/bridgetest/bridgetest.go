// Package bridgetest has hand-written test doubles for the core's
// interfaces, shared by the tests of the core and of each desk: a store that
// can be "killed" like a crashed process, and a sink that records what it
// is given.
package bridgetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
)

// ErrKilled is what a killed store answers.
var ErrKilled = errors.New("bridgetest: store killed")

// KillableStore passes every call to Store until Kill; from then on every
// call fails, as if the instance using it had died: it cannot renew,
// release, commit or deliver anything.
type KillableStore struct {
	bridge.Store
	mu   sync.Mutex
	dead bool
}

// Kill makes every later call fail.
func (k *KillableStore) Kill() { k.mu.Lock(); k.dead = true; k.mu.Unlock() }

func (k *KillableStore) check() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.dead {
		return ErrKilled
	}
	return nil
}

func guard[T any](k *KillableStore, f func() (T, error)) (T, error) {
	if err := k.check(); err != nil {
		var zero T
		return zero, err
	}
	return f()
}

func (k *KillableStore) Chat(ctx context.Context, c bridge.CustomerID) (bridge.Chat, error) {
	return guard(k, func() (bridge.Chat, error) { return k.Store.Chat(ctx, c) })
}
func (k *KillableStore) BeginChat(ctx context.Context, ch bridge.Chat) (bridge.Chat, error) {
	return guard(k, func() (bridge.Chat, error) { return k.Store.BeginChat(ctx, ch) })
}
func (k *KillableStore) Commit(ctx context.Context, c bridge.CustomerID, cm bridge.Commit) (bridge.Chat, error) {
	return guard(k, func() (bridge.Chat, error) { return k.Store.Commit(ctx, c, cm) })
}
func (k *KillableStore) NextSeq(ctx context.Context, c bridge.CustomerID) (int64, error) {
	return guard(k, func() (int64, error) { return k.Store.NextSeq(ctx, c) })
}
func (k *KillableStore) Enqueue(ctx context.Context, c bridge.CustomerID, id bridge.ChatID, ev bridge.Event) (bridge.Outgoing, error) {
	return guard(k, func() (bridge.Outgoing, error) { return k.Store.Enqueue(ctx, c, id, ev) })
}
func (k *KillableStore) OutboxHead(ctx context.Context, c bridge.CustomerID) (bridge.Outgoing, bool, error) {
	if err := k.check(); err != nil {
		return bridge.Outgoing{}, false, err
	}
	return k.Store.OutboxHead(ctx, c)
}
func (k *KillableStore) OutboxDone(ctx context.Context, c bridge.CustomerID, o bridge.Outgoing) (bridge.Outgoing, bool, error) {
	if err := k.check(); err != nil {
		return bridge.Outgoing{}, false, err
	}
	return k.Store.OutboxDone(ctx, c, o)
}
func (k *KillableStore) Pending(ctx context.Context, c bridge.CustomerID, consumer string, n int) (string, []bridge.Event, error) {
	if err := k.check(); err != nil {
		return "", nil, err
	}
	return k.Store.Pending(ctx, c, consumer, n)
}
func (k *KillableStore) Advance(ctx context.Context, c bridge.CustomerID, consumer, from, to string) (bool, error) {
	return guard(k, func() (bool, error) { return k.Store.Advance(ctx, c, consumer, from, to) })
}
func (k *KillableStore) Acquire(ctx context.Context, c bridge.CustomerID, owner string, ttl time.Duration) (bool, error) {
	return guard(k, func() (bool, error) { return k.Store.Acquire(ctx, c, owner, ttl) })
}
func (k *KillableStore) Renew(ctx context.Context, owner string, cs []bridge.CustomerID, ttl time.Duration) ([]bridge.CustomerID, error) {
	return guard(k, func() ([]bridge.CustomerID, error) { return k.Store.Renew(ctx, owner, cs, ttl) })
}
func (k *KillableStore) Release(ctx context.Context, c bridge.CustomerID, owner string, active bool) error {
	_, err := guard(k, func() (struct{}, error) { return struct{}{}, k.Store.Release(ctx, c, owner, active) })
	return err
}
func (k *KillableStore) Deactivate(ctx context.Context, c bridge.CustomerID) error {
	_, err := guard(k, func() (struct{}, error) { return struct{}{}, k.Store.Deactivate(ctx, c) })
	return err
}
func (k *KillableStore) Orphans(ctx context.Context, limit int) ([]bridge.CustomerID, error) {
	return guard(k, func() ([]bridge.CustomerID, error) { return k.Store.Orphans(ctx, limit) })
}

// RecordSink records what it delivers, per customer. Like LINE's retry
// key, a delivery key seen before is accepted without recording the events
// again; a key reused for other events is a bug and answers a permanent
// error. It takes every desk event but typing, three at a time.
type RecordSink struct {
	name      string
	mu        sync.Mutex
	got       map[bridge.CustomerID][]bridge.Event
	keys      map[string][]string // delivery key → event ids
	delivered map[string]bool
	fail      int
	cond      chan struct{}
}

var _ bridge.Sink = (*RecordSink)(nil)

// NewRecordSink returns a sink with the given cursor name.
func NewRecordSink(name string) *RecordSink {
	return &RecordSink{name: name, got: map[bridge.CustomerID][]bridge.Event{}, keys: map[string][]string{},
		delivered: map[string]bool{}, cond: make(chan struct{})}
}

// Name implements bridge.Sink.
func (s *RecordSink) Name() string { return s.name }

// Accepts implements bridge.Sink.
func (s *RecordSink) Accepts(ev bridge.Event) bool {
	return ev.FromDesk() && ev.Kind != bridge.KindAgentTyping && ev.Kind != bridge.KindAgentNotTyping
}

// Batch implements bridge.Sink.
func (s *RecordSink) Batch(evs []bridge.Event) int { return min(len(evs), 3) }

// FailNext makes the next n deliveries fail (retryably).
func (s *RecordSink) FailNext(n int) { s.mu.Lock(); s.fail = n; s.mu.Unlock() }

// Deliver implements bridge.Sink.
func (s *RecordSink) Deliver(_ context.Context, d bridge.Delivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, ev := range d.Events {
		ids = append(ids, ev.ID)
	}
	if prev, ok := s.keys[d.Key]; ok && !slices.Equal(prev, ids) {
		return fmt.Errorf("%w: key %s reused for %v, was %v", bridge.ErrPermanent, d.Key, ids, prev)
	}
	if s.delivered[d.Key] {
		return nil
	}
	s.keys[d.Key] = ids
	if s.fail > 0 {
		s.fail--
		return errors.New("bridgetest: injected sink failure")
	}
	s.delivered[d.Key] = true
	s.got[d.Customer] = append(s.got[d.Customer], d.Events...)
	close(s.cond)
	s.cond = make(chan struct{})
	return nil
}

// Events returns what was delivered for c.
func (s *RecordSink) Events(c bridge.CustomerID) []bridge.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got[c])
}

// WaitFor waits (up to 20 s) until pred holds for the events delivered for
// c, and returns them.
func (s *RecordSink) WaitFor(t testing.TB, c bridge.CustomerID, what string, pred func([]bridge.Event) bool) []bridge.Event {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		s.mu.Lock()
		evs, ch := slices.Clone(s.got[c]), s.cond
		s.mu.Unlock()
		if pred(evs) {
			return evs
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("sink %s: timed out waiting for %s; have %s", s.name, what, Kinds(evs))
		}
	}
}

// Kinds describes events for failure messages.
func Kinds(evs []bridge.Event) string {
	var out []string
	for _, e := range evs {
		k := string(e.Kind)
		if e.Text != "" {
			k += "(" + e.Text + ")"
		}
		out = append(out, k)
	}
	return fmt.Sprint(out)
}

// Texts returns the texts of the events of kind k.
func Texts(evs []bridge.Event, k bridge.Kind) []string {
	var out []string
	for _, e := range evs {
		if e.Kind == k {
			out = append(out, e.Text)
		}
	}
	return out
}

// HasKind is a WaitFor predicate: some event is of kind k.
func HasKind(k bridge.Kind) func([]bridge.Event) bool {
	return func(evs []bridge.Event) bool {
		return slices.ContainsFunc(evs, func(e bridge.Event) bool { return e.Kind == k })
	}
}
