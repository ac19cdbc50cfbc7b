package bridge_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
	"github.com/line-sf-bridge/bridge/pkg/bridge/bridgetest"
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
	store  *bridgetest.KillableStore
	sink   *bridgetest.RecordSink
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
	return e.startWith(name, bridgetest.NewRecordSink("record"), sinks...)
}

// startWith starts an instance whose recording sink is rec (pass the sink
// of a stopped instance to model one receiver across a restart).
func (e *env) startWith(name string, rec *bridgetest.RecordSink, sinks ...bridge.Sink) *instance {
	e.t.Helper()
	st := &bridgetest.KillableStore{Store: redisstore.New(e.rdb, redisstore.Options{Prefix: e.prefix})}
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
func (in *instance) kill() { in.store.Kill() }

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
