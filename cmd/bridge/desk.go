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
	"github.com/line-sf-bridge/bridge/pkg/desk/miaw"
	"github.com/line-sf-bridge/bridge/pkg/desk/miaw/miawsim"
)

// demoSim is the embedded Live Agent simulator in demo mode (nil with DESK=miaw).
var demoSim *lasim.Sim

// newDesk builds the agent side. In demo mode it talks to an embedded
// simulator mounted on the bridge's own server: /sim (Live Agent) or
// /miaw-sim (Enhanced Chat).
func newDesk(cfg *config.Config, base string, routes *[]func(*echo.Echo), st *stack, log *slog.Logger) (bridge.Desk, func(context.Context) error, error) {
	switch cfg.Desk {
	case "", config.DeskLiveAgent:
		return newLiveAgentDesk(cfg, base, routes, st, log)
	case config.DeskMIAW:
		return newMIAWDesk(cfg, base, routes, st, log)
	}
	return nil, nil, fmt.Errorf("DESK=%s: use liveagent or miaw", cfg.Desk)
}

// mount serves h under prefix on the bridge's server.
func mount(routes *[]func(*echo.Echo), prefix string, h http.Handler) {
	sh := http.StripPrefix(prefix, h)
	*routes = append(*routes, func(e *echo.Echo) { e.Any(prefix+"/*", echo.WrapHandler(sh)) })
}

func defaults(pairs ...*string) {
	for i := 0; i+1 < len(pairs); i += 2 {
		if *pairs[i] == "" {
			*pairs[i] = *pairs[i+1]
		}
	}
}

func newLiveAgentDesk(cfg *config.Config, base string, routes *[]func(*echo.Echo), st *stack, log *slog.Logger) (bridge.Desk, func(context.Context) error, error) {
	host := cfg.LiveAgent.Host
	hc := &http.Client{Transport: &http.Transport{
		Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second, // no ResponseHeaderTimeout: long polls hold the headers
		// One connection per open chat: small buffers (requests are under
		// 1 KiB, most answers a few hundred bytes) keep memory per chat low.
		ReadBufferSize: 2 << 10, WriteBufferSize: 1 << 10,
	}}
	if cfg.Demo {
		sim := lasim.New(lasim.Options{
			AgentName: "佐藤 (Salesforce)",
			HoldTime:  20 * time.Second, ClientPollTimeout: 40 * time.Second, BaseURL: base + "/sim",
			Logger: log.With("component", "liveagent-sim"),
		})
		st.add(func() { _ = sim.Close() })
		mount(routes, "/sim", sim)
		demoSim = sim
		host = base + "/sim"
		la := &cfg.LiveAgent
		org, dep, btn := "00D000000000001AAA", "572000000000001AAA", "573000000000001AAA"
		defaults(&la.OrganizationID, &org, &la.DeploymentID, &dep, &la.ButtonID, &btn)
	}
	client := newLiveAgentClient(cfg, host, hc)
	desk := liveagent.NewDesk(client, liveagent.DeskOptions{
		PrechatLabel: cfg.LiveAgent.PrechatLabel, Logger: log.With("component", "liveagent"),
	})
	ready := func(context.Context) error {
		if strings.TrimSpace(host) == "" {
			return fmt.Errorf("LIVEAGENT_HOST is not set")
		}
		return nil
	}
	return desk, ready, nil
}

func newMIAWDesk(cfg *config.Config, base string, routes *[]func(*echo.Echo), st *stack, log *slog.Logger) (bridge.Desk, func(context.Context) error, error) {
	m := &cfg.MIAW
	if cfg.Demo {
		org, dep := "00D000000000001AAA", "LINE_Bridge_Demo"
		defaults(&m.OrgID, &org, &m.DeploymentName, &dep)
		sim := miawsim.New(miawsim.Options{OrgID: m.OrgID, DeploymentName: m.DeploymentName, AgentName: "佐藤 (Salesforce)",
			Logger: log.With("component", "miaw-sim")})
		st.add(func() { _ = sim.Close() })
		mount(routes, "/miaw-sim", sim)
		m.URL = base + "/miaw-sim"
	}
	client, err := miaw.NewClient(miaw.Config{URL: m.URL, OrgID: m.OrgID, DeploymentName: m.DeploymentName,
		CapabilitiesVersion: m.CapabilitiesVersion, PrivateKey: m.PrivateKey, Issuer: m.Issuer}, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("DESK=miaw: %w", err)
	}
	desk := miaw.NewDesk(client, miaw.DeskOptions{Logger: log.With("component", "miaw")})
	st.add(func() { _ = desk.Close() }) // after Bridge.Run returned: stops the event streams
	return desk, func(context.Context) error { return nil }, nil
}
