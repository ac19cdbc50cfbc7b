package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
	"github.com/line-sf-bridge/bridge/pkg/config"
	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent"
	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent/lasim"
)

// demoSim is the embedded simulator in demo mode.
var demoSim *lasim.Sim

// newDesk builds the agent side. In demo mode it is the Live Agent simulator,
// mounted on the bridge's own server under /sim.
func newDesk(cfg *config.Config, base string, routes *[]func(*echo.Echo), st *stack, log *slog.Logger) (bridge.Desk, func(context.Context) error, error) {
	switch cfg.Desk {
	case "", "liveagent":
	default:
		return nil, nil, fmt.Errorf("DESK=%s is not available in this build yet; use DESK=liveagent", cfg.Desk)
	}
	host := cfg.LiveAgent.Host
	hc := &http.Client{Transport: &http.Transport{
		Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second, ResponseHeaderTimeout: 0, // long polls hold the headers
	}}
	if cfg.Demo {
		sim := lasim.New(lasim.Options{
			AgentName: "佐藤 (Salesforce)",
			HoldTime:  20 * time.Second, ClientPollTimeout: 40 * time.Second, BaseURL: base + "/sim",
			Logger: log.With("component", "liveagent-sim"),
		})
		st.add(func() { _ = sim.Close() })
		h := http.StripPrefix("/sim", sim)
		*routes = append(*routes, func(e *echo.Echo) {
			e.Any("/sim/*", echo.WrapHandler(h))
		})
		demoSim = sim
		host = base + "/sim"
		la := &cfg.LiveAgent
		for _, f := range []struct {
			v   *string
			def string
		}{{&la.OrganizationID, "00D000000000001AAA"}, {&la.DeploymentID, "572000000000001AAA"}, {&la.ButtonID, "573000000000001AAA"}} {
			if *f.v == "" {
				*f.v = f.def
			}
		}
	}
	client := newLiveAgentClient(cfg, host, hc)
	desk := liveagent.NewDesk(client, liveagent.DeskOptions{
		PrechatLabel: cfg.LiveAgent.PrechatLabel, Logger: log.With("component", "liveagent"),
	})
	ready := func(ctx context.Context) error {
		if strings.TrimSpace(host) == "" {
			return fmt.Errorf("LIVEAGENT_HOST is not set")
		}
		return nil
	}
	return desk, ready, nil
}
