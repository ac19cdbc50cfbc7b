package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent"
	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent/lasim"
	"github.com/line-sf-bridge/bridge/pkg/server"
	"github.com/line-sf-bridge/bridge/pkg/store/redisstore"
	"github.com/line-sf-bridge/bridge/pkg/store/redisstore/redistest"
)

// The script passes against the bridge and the simulator on one server, as
// with `bridge --demo`.
func TestPlayAgainstBridge(t *testing.T) {
	sim := lasim.New(lasim.Options{HoldTime: 300 * time.Millisecond, ClientPollTimeout: 5 * time.Second})
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close(); _ = sim.Close() })
	rdb := redistest.Client(t)
	st := redisstore.New(rdb, redisstore.Options{Prefix: redistest.Prefix(t, rdb)})
	desk := liveagent.NewDesk(liveagent.NewClient(liveagent.Config{Host: srv.URL + "/sim", OrgID: "00D", DeploymentID: "572", ButtonID: "573"}, srv.Client()), liveagent.DeskOptions{})
	b := bridge.New(st, desk, nil, bridge.Options{LeaseTTL: 2 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = b.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	s := server.New(b, server.Options{MessagesWait: 2 * time.Second, InitWait: 2 * time.Second, Routes: func(e *echo.Echo) {
		e.Any("/sim/*", echo.WrapHandler(http.StripPrefix("/sim", sim)))
	}})
	mux.Handle("/", s.Handler())

	var out io.Writer = io.Discard
	if testing.Verbose() {
		out = os.Stdout
	}
	p := &Player{Bridge: srv.URL, Sim: srv.URL + "/sim", Out: out, HTTP: srv.Client()}
	pctx, pcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer pcancel()
	if err := p.Play(pctx, "U0123456789abcdef0123456789abcdef"); err != nil {
		t.Fatal(err)
	}
}
