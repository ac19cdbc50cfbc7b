package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
	"github.com/line-sf-bridge/bridge/pkg/config"
	"github.com/line-sf-bridge/bridge/pkg/demo"
	"github.com/line-sf-bridge/bridge/pkg/line/linesim"
)

// Demo credentials of the stand-in LINE platform; they only ever reach the
// in-process fake.
const (
	demoSecret = "demo-channel-secret"
	demoToken  = "demo-channel-token"
)

// setupDemoLINE points the LINE side at a stand-in LINE platform mounted
// under /line-sim, unless real LINE credentials were configured.
func setupDemoLINE(cfg *config.Config, base string, routes *[]func(*echo.Echo), st *stack) *linesim.Server {
	if !cfg.Demo || cfg.LINE.ChannelSecret != "" || cfg.LINE.ChannelToken != "" {
		return nil
	}
	ls := linesim.New(demoToken)
	st.add(ls.Close)
	cfg.LINE.ChannelSecret, cfg.LINE.ChannelToken = demoSecret, demoToken
	cfg.LINE.APIBaseURL, cfg.LINE.DataAPIBaseURL = base+"/line-sim", base+"/line-sim"
	h := http.StripPrefix("/line-sim", ls)
	*routes = append(*routes, func(e *echo.Echo) { e.Any("/line-sim/*", echo.WrapHandler(h)) })
	return ls
}

func demoRoutes(base string, ls *linesim.Server, b *bridge.Bridge, log *slog.Logger) func(*echo.Echo) {
	return func(e *echo.Echo) {
		demo.Register(e, demo.Options{
			Sim: demoSim, LINE: ls, ChannelSecret: demoSecret, WebhookURL: base + "/line/webhook",
			HTTPClient: &http.Client{Timeout: 10 * time.Second}, Logger: log.With("component", "demo"), Operator: b,
		})
	}
}

func printDemo(w io.Writer, base string) {
	fmt.Fprintf(w, `
  LINE ⇄ Salesforce bridge — demo mode (embedded store, Live Agent simulator, stand-in LINE)

  Open in a browser   %[1]s/demo            (both panes side by side)
                      %[1]s/demo/customer   the LINE user
                      %[1]s/demo/agent/     the agent console
                      %[1]s/demo/operator   open chats, live
  Bridge API          %[1]s/init  /send  /messages  /close
  Simulator (agent)   %[1]s/sim/control/chats
  Health, metrics     %[1]s/healthz  %[1]s/metrics

  Try:  curl -s -XPOST %[1]s/init -d '{"line_id":"U1","display_name":"Taro"}'
        curl -s %[1]s/sim/control/chats
        curl -s -XPOST %[1]s/sim/control/chats/<id>/accept
        curl -s -XPOST %[1]s/messages -d '{"line_id":"U1"}'

`, base)
}
