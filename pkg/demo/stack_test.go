package demo_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
	"github.com/line-sf-bridge/bridge/pkg/demo"
	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent"
	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent/lasim"
	"github.com/line-sf-bridge/bridge/pkg/line"
	"github.com/line-sf-bridge/bridge/pkg/line/linesim"
	"github.com/line-sf-bridge/bridge/pkg/server"
	"github.com/line-sf-bridge/bridge/pkg/store/redisstore"
	"github.com/line-sf-bridge/bridge/pkg/store/redisstore/redistest"
)

// Demo credentials, as cmd/bridge uses them: they only reach the stand-in.
const (
	testSecret = "demo-channel-secret"
	testToken  = "demo-channel-token"
	agentName  = "佐藤 (Salesforce)"
)

// stack is the whole demo, in-process, as `bridge --demo` runs it: a real
// Redis, the Live Agent simulator at /sim, the stand-in LINE platform at
// /line-sim, the bridge with its LINE webhook and push relay, and the demo
// pages, on one httptest server.
type stack struct {
	URL    string
	Sim    *lasim.Sim
	LINE   *linesim.Server
	Bridge *bridge.Bridge
}

func startStack(t *testing.T) *stack {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("DEMO_TEST_LOG") == "1" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	rdb := redistest.Client(t)
	store := redisstore.New(rdb, redisstore.Options{Prefix: redistest.Prefix(t, rdb)})

	// The parts need the server's URL before the server has its handler.
	var handler atomic.Pointer[http.Handler]
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := handler.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		http.Error(w, "starting", http.StatusServiceUnavailable)
	}))
	t.Cleanup(ts.Close)
	base := ts.URL

	sim := lasim.New(lasim.Options{
		AgentName: agentName, HoldTime: 5 * time.Second, ClientPollTimeout: 40 * time.Second,
		BaseURL: base + "/sim", Logger: log.With("component", "liveagent-sim"),
	})
	ls := linesim.New(testToken)

	lc := line.Config{
		ChannelSecret: testSecret, ChannelToken: testToken,
		APIBaseURL: base + "/line-sim", DataAPIBaseURL: base + "/line-sim",
	}
	llog := log.With("component", "line")
	push, err := line.NewPusher(lc, llog)
	if err != nil {
		t.Fatal(err)
	}
	read, err := line.NewReadMarker(lc, llog)
	if err != nil {
		t.Fatal(err)
	}
	client := liveagent.NewClient(liveagent.Config{
		Host: base + "/sim", OrgID: "00D000000000001AAA", DeploymentID: "572000000000001AAA", ButtonID: "573000000000001AAA",
	}, nil)
	desk := liveagent.NewDesk(client, liveagent.DeskOptions{Logger: log.With("component", "liveagent")})
	b := bridge.New(store, desk, []bridge.Sink{push, read}, bridge.Options{Logger: log.With("component", "bridge")})
	wh, err := line.NewWebhook(lc, b, store, llog)
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(b, server.Options{
		LineWebhook: wh, Logger: log.With("component", "http"),
		Routes: func(e *echo.Echo) {
			simH := http.StripPrefix("/sim", sim)
			e.Any("/sim/*", echo.WrapHandler(simH))
			lineH := http.StripPrefix("/line-sim", ls)
			e.Any("/line-sim/*", echo.WrapHandler(lineH))
			demo.Register(e, demo.Options{
				Sim: sim, LINE: ls, ChannelSecret: testSecret, WebhookURL: base + "/line/webhook",
				HTTPClient: &http.Client{Timeout: 10 * time.Second}, Logger: log.With("component", "demo"),
				Operator: b, OperatorInterval: 200 * time.Millisecond,
			})
		},
	})
	h := srv.Handler()
	handler.Store(&h)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := b.Run(ctx); err != nil && ctx.Err() == nil {
			t.Errorf("bridge: %v", err)
		}
	}()
	t.Cleanup(func() {
		srv.Drain()
		_ = sim.Close() // releases the bridge's holding polls
		ls.Close()
		cancel()
		<-done
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		_ = wh.Close(cctx)
		ts.CloseClientConnections() // the pages' event streams
	})
	return &stack{URL: base, Sim: sim, LINE: ls, Bridge: b}
}
