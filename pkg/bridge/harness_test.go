package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent"
	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent/lasim"
	"github.com/line-sf-bridge/bridge/pkg/store/redisstore"
	"github.com/line-sf-bridge/bridge/pkg/store/redisstore/redistest"
)

// env is one Live Agent simulator and one Redis key space, shared by any
// number of bridge instances.
type env struct {
	t      *testing.T
	sim    *lasim.Sim
	srv    *httptest.Server
	rdb    redis.UniversalClient
	prefix string
}

func newEnv(t *testing.T, o lasim.Options) *env {
	t.Helper()
	if o.HoldTime == 0 {
		o.HoldTime = 300 * time.Millisecond
	}
	if o.ClientPollTimeout == 0 {
		o.ClientPollTimeout = 3 * time.Second
	}
	sim := lasim.New(o)
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close(); _ = sim.Close() })
	rdb := redistest.Client(t)
	return &env{t: t, sim: sim, srv: srv, rdb: rdb, prefix: redistest.Prefix(t, rdb)}
}

// instance is one bridge process.
type instance struct {
	b      *bridge.Bridge
	store  *killableStore
	sink   *recordSink
	cancel context.CancelFunc
	done   chan error
}

func (e *env) desk() *liveagent.Desk {
	c := liveagent.NewClient(liveagent.Config{Host: e.srv.URL, OrgID: "00D000000000001", DeploymentID: "572000000000001",
		ButtonID: "573000000000001"}, e.srv.Client())
	return liveagent.NewDesk(c, liveagent.DeskOptions{})
}

func logger(t *testing.T) *slog.Logger {
	if os.Getenv("TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func (e *env) start(name string, sinks ...bridge.Sink) *instance {
	return e.startWith(name, newRecordSink("record"), sinks...)
}

// startWith starts an instance whose recording sink is rec (pass the sink
// of a stopped instance to model one receiver across a restart).
func (e *env) startWith(name string, rec *recordSink, sinks ...bridge.Sink) *instance {
	e.t.Helper()
	st := &killableStore{Store: redisstore.New(e.rdb, redisstore.Options{Prefix: e.prefix})}
	b := bridge.New(st, e.desk(), append([]bridge.Sink{rec}, sinks...), bridge.Options{
		Owner: name, LeaseTTL: time.Second, ScanInterval: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		SinkMaxBackoff: 200 * time.Millisecond, Logger: logger(e.t).With("instance", name),
	})
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{b: b, store: st, sink: rec, cancel: cancel, done: make(chan error, 1)}
	go func() { in.done <- b.Run(ctx) }()
	e.t.Cleanup(in.stop)
	return in
}

// stop shuts the instance down gracefully.
func (in *instance) stop() {
	in.cancel()
	select {
	case <-in.done:
	case <-time.After(10 * time.Second):
		panic("bridge did not stop within 10s")
	}
	in.done <- nil // later stops return at once
}

// kill makes the instance's store fail from now on, as if the process
// died: it cannot renew, release or commit anything.
func (in *instance) kill() { in.store.kill() }

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

// recordSink records what it delivers, per customer, and can be told to
// fail the next deliveries.
type recordSink struct {
	name      string
	mu        sync.Mutex
	got       map[bridge.CustomerID][]bridge.Event
	keys      map[string][]string // delivery key → event ids (a retry must repeat them)
	delivered map[string]bool
	fail      int
	cond      chan struct{}
}

func newRecordSink(name string) *recordSink {
	return &recordSink{name: name, got: map[bridge.CustomerID][]bridge.Event{}, keys: map[string][]string{}, delivered: map[string]bool{}, cond: make(chan struct{})}
}

func (s *recordSink) Name() string { return s.name }
func (s *recordSink) Accepts(ev bridge.Event) bool {
	return ev.FromDesk() && ev.Kind != bridge.KindAgentTyping && ev.Kind != bridge.KindAgentNotTyping
}
func (s *recordSink) Batch(evs []bridge.Event) int { return min(len(evs), 3) }
func (s *recordSink) failNext(n int)               { s.mu.Lock(); s.fail = n; s.mu.Unlock() }
func (s *recordSink) Deliver(ctx context.Context, d bridge.Delivery) error {
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
		return nil // like LINE's retry key: accepted once, 409 after
	}
	s.keys[d.Key] = ids
	if s.fail > 0 {
		s.fail--
		return errors.New("injected sink failure")
	}
	s.delivered[d.Key] = true
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

// waitFor waits until pred holds for the events delivered to c.
func (s *recordSink) waitFor(t *testing.T, c bridge.CustomerID, what string, pred func([]bridge.Event) bool) []bridge.Event {
	t.Helper()
	deadline := time.After(15 * time.Second)
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
			t.Fatalf("sink %s: timed out waiting for %s; have %s", s.name, what, kinds(evs))
		}
	}
}

func kinds(evs []bridge.Event) string {
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

func texts(evs []bridge.Event, k bridge.Kind) []string {
	var out []string
	for _, e := range evs {
		if e.Kind == k {
			out = append(out, e.Text)
		}
	}
	return out
}

func hasKind(k bridge.Kind) func([]bridge.Event) bool {
	return func(evs []bridge.Event) bool {
		return slices.ContainsFunc(evs, func(e bridge.Event) bool { return e.Kind == k })
	}
}

// simChat waits for the simulator's chat of the given visitor.
func (e *env) simChat(name string) lasim.ChatView {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := e.sim.WaitFor(ctx, func(c lasim.ChatView) bool { return c.VisitorName == name })
	if err != nil {
		e.t.Fatalf("no simulator chat for %q: %v", name, err)
	}
	return v
}

func (e *env) waitSim(id, what string, cond func(lasim.ChatView) bool) lasim.ChatView {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	v, err := e.sim.WaitChat(ctx, id, cond)
	if err != nil {
		e.t.Fatalf("simulator chat %s: waiting for %s: %v (chat: %+v)", id, what, err, v)
	}
	return v
}

func visitorTexts(v lasim.ChatView) []string {
	var out []string
	for _, t := range v.Transcript {
		if t.Type == lasim.TranscriptChasitor {
			out = append(out, t.Content)
		}
	}
	return out
}

var _ = http.StatusOK
