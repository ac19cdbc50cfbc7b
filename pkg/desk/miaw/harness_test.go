package miaw_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
	"github.com/line-sf-bridge/bridge/pkg/bridge/bridgetest"
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
	store  *bridgetest.KillableStore
	desk   *miaw.Desk
	sink   *bridgetest.RecordSink
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

func (e *benv) start(name string) *binstance {
	e.t.Helper()
	return e.startWith(name, bridgetest.NewRecordSink("record"))
}

// startWith starts an instance delivering to rec (pass another instance's
// sink to model one receiver, as LINE is, behind several instances).
func (e *benv) startWith(name string, rec *bridgetest.RecordSink) *binstance {
	e.t.Helper()
	st := &bridgetest.KillableStore{Store: redisstore.New(e.rdb, redisstore.Options{Prefix: e.prefix})}
	desk := miaw.NewDesk(e.client(false), miaw.DeskOptions{Wait: time.Second, Logger: testLogger().With("instance", name)})
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
func (in *binstance) kill() { in.store.Kill() }

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
