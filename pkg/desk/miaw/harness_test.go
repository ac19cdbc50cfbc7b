package miaw_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
	"github.com/line-sf-bridge/bridge/pkg/desk/miaw"
	"github.com/line-sf-bridge/bridge/pkg/desk/miaw/miawsim"
	"github.com/line-sf-bridge/bridge/pkg/store/redisstore"
	"github.com/line-sf-bridge/bridge/pkg/store/redisstore/redistest"
)

// The core's invariants with DESK=miaw: bridge.New with the Enhanced Chat desk, Run, a real
// Redis, and the MIAW simulator playing Salesforce.

// benv is one simulator and one Redis key space, shared by any number of bridge instances.
type benv struct {
	*fixture
	rdb    redis.UniversalClient
	prefix string
}

func newBridgeEnv(t *testing.T) *benv {
	f := newFixture(t)
	rdb := redistest.Client(t)
	return &benv{fixture: f, rdb: rdb, prefix: redistest.Prefix(t, rdb)}
}

// binstance is one bridge process: its own store connection, desk (client, token cache and
// event streams) and recording sink.
type binstance struct {
	b      *bridge.Bridge
	store  *killableStore
	desk   *miaw.Desk
	sink   *recordSink
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

func (e *benv) start(name string) *binstance {
	e.t.Helper()
	st := &killableStore{Store: redisstore.New(e.rdb, redisstore.Options{Prefix: e.prefix})}
	desk := miaw.NewDesk(e.client(false), miaw.DeskOptions{Wait: time.Second, Logger: testLogger().With("instance", name)})
	rec := newRecordSink("record")
	b := bridge.New(st, desk, []bridge.Sink{rec}, bridge.Options{
		Owner: name, LeaseTTL: time.Second, ScanInterval: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		SinkMaxBackoff: 200 * time.Millisecond, DeskTimeout: 5 * time.Second, Logger: testLogger().With("instance", name),
	})
	ctx, cancel := context.WithCancel(context.Background())
	in := &binstance{b: b, store: st, desk: desk, sink: rec, cancel: cancel, done: make(chan error, 1)}
	go func() { in.done <- b.Run(ctx) }()
	e.t.Cleanup(in.stop)
	return in
}

// stop shuts the instance down gracefully, then closes its desk.
func (in *binstance) stop() {
	in.once.Do(func() {
		in.cancel()
		select {
		case <-in.done:
		case <-time.After(10 * time.Second):
			panic("bridge did not stop within 10s")
		}
		_ = in.desk.Close()
	})
}

// kill makes the instance's store fail from now on, as if the process had died.
func (in *binstance) kill() { in.store.kill() }

// killableStore fails every call once killed.
type killableStore struct {
	bridge.Store
	mu   sync.Mutex
	dead bool
}

var errKilled = errors.New("killed")

func (k *killableStore) kill() { k.mu.Lock(); k.dead = true; k.mu.Unlock() }
func (k *killableStore) check() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.dead {
		return errKilled
	}
	return nil
}
func (k *killableStore) Chat(ctx context.Context, c bridge.CustomerID) (bridge.Chat, error) {
	if err := k.check(); err != nil {
		return bridge.Chat{}, err
	}
	return k.Store.Chat(ctx, c)
}
func (k *killableStore) Commit(ctx context.Context, c bridge.CustomerID, cm bridge.Commit) (bridge.Chat, error) {
	if err := k.check(); err != nil {
		return bridge.Chat{}, err
	}
	return k.Store.Commit(ctx, c, cm)
}
func (k *killableStore) Renew(ctx context.Context, o string, cs []bridge.CustomerID, ttl time.Duration) ([]bridge.CustomerID, error) {
	if err := k.check(); err != nil {
		return nil, err
	}
	return k.Store.Renew(ctx, o, cs, ttl)
}
func (k *killableStore) Release(ctx context.Context, c bridge.CustomerID, o string, active bool) error {
	if err := k.check(); err != nil {
		return err
	}
	return k.Store.Release(ctx, c, o, active)
}
func (k *killableStore) Acquire(ctx context.Context, c bridge.CustomerID, o string, ttl time.Duration) (bool, error) {
	if err := k.check(); err != nil {
		return false, err
	}
	return k.Store.Acquire(ctx, c, o, ttl)
}
func (k *killableStore) Advance(ctx context.Context, c bridge.CustomerID, cons, from, to string) (bool, error) {
	if err := k.check(); err != nil {
		return false, err
	}
	return k.Store.Advance(ctx, c, cons, from, to)
}
func (k *killableStore) Orphans(ctx context.Context, n int) ([]bridge.CustomerID, error) {
	if err := k.check(); err != nil {
		return nil, err
	}
	return k.Store.Orphans(ctx, n)
}
func (k *killableStore) Deactivate(ctx context.Context, c bridge.CustomerID) error {
	if err := k.check(); err != nil {
		return err
	}
	return k.Store.Deactivate(ctx, c)
}
func (k *killableStore) OutboxHead(ctx context.Context, c bridge.CustomerID) (bridge.Outgoing, bool, error) {
	if err := k.check(); err != nil {
		return bridge.Outgoing{}, false, err
	}
	return k.Store.OutboxHead(ctx, c)
}

// recordSink records what it delivers, per customer; a delivery key reused with other events
// is a bug.
type recordSink struct {
	name string
	mu   sync.Mutex
	got  map[bridge.CustomerID][]bridge.Event
	keys map[string][]string
	cond chan struct{}
}

func newRecordSink(name string) *recordSink {
	return &recordSink{name: name, got: map[bridge.CustomerID][]bridge.Event{}, keys: map[string][]string{}, cond: make(chan struct{})}
}

func (s *recordSink) Name() string { return s.name }
func (s *recordSink) Accepts(ev bridge.Event) bool {
	return ev.FromDesk() && ev.Kind != bridge.KindAgentTyping && ev.Kind != bridge.KindAgentNotTyping
}
func (s *recordSink) Batch(evs []bridge.Event) int { return min(len(evs), 3) }
func (s *recordSink) Deliver(ctx context.Context, d bridge.Delivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, ev := range d.Events {
		ids = append(ids, ev.ID)
	}
	if prev, ok := s.keys[d.Key]; ok {
		if !slices.Equal(prev, ids) {
			return fmt.Errorf("%w: key %s reused for %v, was %v", bridge.ErrPermanent, d.Key, ids, prev)
		}
		return nil // delivered before: idempotent, like LINE's retry key
	}
	s.keys[d.Key] = ids
	s.got[d.Customer] = append(s.got[d.Customer], d.Events...)
	close(s.cond)
	s.cond = make(chan struct{})
	return nil
}

func (s *recordSink) events(c bridge.CustomerID) []bridge.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got[c])
}

func (s *recordSink) waitFor(t *testing.T, c bridge.CustomerID, what string, pred func([]bridge.Event) bool) []bridge.Event {
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
			t.Fatalf("sink: timed out waiting for %s; have %s", what, kinds(evs))
		}
	}
}

func bopen(t *testing.T, in *binstance, v bridge.Visitor) bridge.Chat {
	t.Helper()
	ch, created, err := in.b.Open(context.Background(), v)
	if err != nil || !created {
		t.Fatalf("Open = %v, %v", created, err)
	}
	return ch
}

func bsend(t *testing.T, in *binstance, c bridge.CustomerID, text string) {
	t.Helper()
	if err := in.b.Send(context.Background(), c, bridge.Event{Kind: bridge.KindCustomerMessage, Text: text}); err != nil {
		t.Fatalf("Send(%q): %v", text, err)
	}
}

// simConv waits for the conversation of customer c.
func (e *benv) simConv(c bridge.CustomerID) miawsim.ConversationView {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := e.sim.WaitFor(ctx, func(v miawsim.ConversationView) bool {
		return v.RoutingAttributes["LineUserId"] == string(c) && v.State != miawsim.StateClosed
	})
	if err != nil {
		e.t.Fatalf("no simulator conversation for %s: %v", c, err)
	}
	return v
}

func isEnded(evs []bridge.Event) bool {
	return len(evs) > 0 && evs[len(evs)-1].Kind == bridge.KindEnded
}

func agentTexts(n int, prefix string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s %d", prefix, i+1)
	}
	return out
}

// pull drains the pull cursor (what /messages serves) until pred holds.
func pull(t *testing.T, in *binstance, c bridge.CustomerID, pred func([]bridge.Event) bool) []bridge.Event {
	t.Helper()
	var got []bridge.Event
	deadline := time.Now().Add(20 * time.Second)
	for !pred(got) {
		if time.Now().After(deadline) {
			t.Fatalf("pull: timed out; have %s", kinds(got))
		}
		ev, ok, err := in.b.Next(context.Background(), c, time.Second, func(e bridge.Event) bool { return e.FromDesk() })
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			got = append(got, ev)
		}
	}
	return got
}
