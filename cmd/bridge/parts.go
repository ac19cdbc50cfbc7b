package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
	"github.com/line-sf-bridge/bridge/pkg/config"
	"github.com/line-sf-bridge/bridge/pkg/events"
	"github.com/line-sf-bridge/bridge/pkg/line"
	"github.com/line-sf-bridge/bridge/pkg/server"
	"github.com/line-sf-bridge/bridge/pkg/store/redisstore"
)

// parts are the optional pieces: the LINE channel and the event webhooks.
type parts struct {
	sinks   []bridge.Sink
	webhook http.Handler
	admin   func(*echo.Group)
	runners map[string]func(context.Context) error
	attach  func(*bridge.Bridge) error // gives the parts the bridge once it exists
	closers []func()
}

func (p *parts) close() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
}

func lineConfig(cfg *config.Config) line.Config {
	l := cfg.LINE
	return line.Config{
		ChannelSecret: l.ChannelSecret, ChannelToken: l.ChannelToken,
		APIBaseURL: l.APIBaseURL, DataAPIBaseURL: l.DataAPIBaseURL, ForwardURL: l.ForwardURL,
		HandoverKeywords: l.HandoverKeywords, EndKeywords: l.EndKeywords,
		HandoverPostback: l.HandoverPostback, EndPostback: l.EndPostback,
		NoticeLanguage: l.NoticeLanguage, HistoryLines: l.HistoryLines,
	}
}

func eventsConfig(cfg *config.Config) events.Config {
	ec := events.Config{AdminAPIKey: cfg.AdminAPIKey, KeyPrefix: cfg.RedisKeyPrefix + "wh"}
	for _, e := range cfg.Events.AllEndpoints() {
		ec.Endpoints = append(ec.Endpoints, events.Endpoint{
			Name: e.Name, URL: e.URL, Secret: e.Secret, Format: e.Format, Events: e.Events, Headers: e.Headers,
			Params: e.Params, ExcludeCustomers: e.ExcludeCustomers, Timeout: e.Timeout, AllowPrivate: e.AllowPrivate,
			Enabled: e.Enabled,
		})
	}
	return ec
}

func newParts(_ context.Context, cfg *config.Config, rdb redis.UniversalClient, store *redisstore.Store, _ prometheus.Registerer, log *slog.Logger) (*parts, error) {
	p := &parts{runners: map[string]func(context.Context) error{}}
	var disp *events.Dispatcher
	if ec := eventsConfig(cfg); len(ec.Endpoints) > 0 {
		d, err := events.New(rdb, ec, events.Options{Logger: log.With("component", "events")})
		if err != nil {
			return nil, fmt.Errorf("event webhooks: %w", err)
		}
		disp = d
		p.sinks = append(p.sinks, d.Sink())
		p.runners["events"] = d.Run
		log.Info("event webhooks on", "endpoints", len(ec.Endpoints))
	}
	lc := lineConfig(cfg)
	llog := log.With("component", "line")
	if lc.ChannelToken != "" {
		push, err := line.NewPusher(lc, llog)
		if err != nil {
			return nil, fmt.Errorf("LINE push relay: %w", err)
		}
		read, err := line.NewReadMarker(lc, llog)
		if err != nil {
			return nil, fmt.Errorf("LINE read marker: %w", err)
		}
		p.sinks = append(p.sinks, push, read)
		log.Info("LINE push relay on")
	}
	var attach []func(*bridge.Bridge) error
	if lc.ChannelSecret != "" {
		attach = append(attach, func(b *bridge.Bridge) error {
			wh, err := line.NewWebhook(lc, b, store, llog)
			if err != nil {
				return fmt.Errorf("LINE webhook: %w", err)
			}
			p.webhook = wh
			p.closers = append(p.closers, func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = wh.Close(ctx)
			})
			log.Info("LINE webhook on", "path", "/line/webhook")
			return nil
		})
	}
	p.attach = func(b *bridge.Bridge) error {
		chats := server.ChatAdmin(b)
		p.admin = func(g *echo.Group) {
			chats(g)
			if disp != nil {
				disp.RegisterAdmin(g)
			}
		}
		for _, f := range attach {
			if err := f(b); err != nil {
				return err
			}
		}
		return nil
	}
	return p, nil
}
