package main

// The "self" bridge: this program re-executed with -role=bridge wires the
// bridge from the same environment variables and with the same parts as
// cmd/bridge (config.Load, Redis store, Live Agent desk, LINE push relay,
// read marker and webhook, server.New, the same http.Server limits), and
// additionally serves net/http/pprof on BENCH_PPROF_ADDR. It exists only to
// profile: cmd/bridge has no pprof endpoint. The figures of the benchmark
// are taken from the real binary (-bridge=binary, the default); a profiling
// run reports both so their CPU and memory can be compared.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
	"github.com/line-sf-bridge/bridge/pkg/config"
	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent"
	"github.com/line-sf-bridge/bridge/pkg/line"
	"github.com/line-sf-bridge/bridge/pkg/server"
	"github.com/line-sf-bridge/bridge/pkg/store/redisstore"
)

func runSelfBridge(addr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := config.Load(os.Getenv, "")
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: cfg.SlogLevel()}))

	if pa := os.Getenv("BENCH_PPROF_ADDR"); pa != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		ps := &http.Server{Addr: pa, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = ps.ListenAndServe() }()
		defer ps.Close()
	}

	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 5*time.Second, 5*time.Second, 5*time.Second
	opt.ContextTimeoutEnabled = true
	opt.PoolSize = max(opt.PoolSize, 64)
	rdb := redis.NewClient(opt)
	defer rdb.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	store := redisstore.New(rdb, redisstore.Options{Prefix: cfg.RedisKeyPrefix, Retention: cfg.Relay.ChatRetention})

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	hc := &http.Client{Transport: &http.Transport{
		Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second, ReadBufferSize: 2 << 10, WriteBufferSize: 1 << 10,
	}}
	client := liveagent.NewClient(liveagent.Config{
		Host: cfg.LiveAgent.Host, OrgID: cfg.LiveAgent.OrganizationID, DeploymentID: cfg.LiveAgent.DeploymentID,
		ButtonID: cfg.LiveAgent.ButtonID, APIVersion: cfg.LiveAgent.APIVersion, UserAgent: cfg.LiveAgent.UserAgent,
		Language: cfg.LiveAgent.Language, RequestTimeout: cfg.LiveAgent.RequestTimeout,
	}, hc)
	desk := liveagent.NewDesk(client, liveagent.DeskOptions{PrechatLabel: cfg.LiveAgent.PrechatLabel, Logger: log})

	l := cfg.LINE
	lc := line.Config{
		ChannelSecret: l.ChannelSecret, ChannelToken: l.ChannelToken,
		APIBaseURL: l.APIBaseURL, DataAPIBaseURL: l.DataAPIBaseURL, ForwardURL: l.ForwardURL,
		HandoverKeywords: l.HandoverKeywords, EndKeywords: l.EndKeywords,
		HandoverPostback: l.HandoverPostback, EndPostback: l.EndPostback,
		NoticeLanguage: l.NoticeLanguage, HistoryLines: l.HistoryLines,
	}
	var sinks []bridge.Sink
	if lc.ChannelToken != "" {
		push, err := line.NewPusher(lc, log)
		if err != nil {
			return err
		}
		read, err := line.NewReadMarker(lc, log)
		if err != nil {
			return err
		}
		sinks = append(sinks, push, read)
	}
	b := bridge.New(store, desk, sinks, bridge.Options{
		LeaseTTL: cfg.Relay.LeaseTTL, ScanInterval: cfg.Relay.LeaseScanInterval,
		Logger: log.With("component", "bridge"), Metrics: bridge.NewMetrics(reg),
	})
	var webhook http.Handler
	if lc.ChannelSecret != "" {
		wh, err := line.NewWebhook(lc, b, store, log)
		if err != nil {
			return err
		}
		defer func() {
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = wh.Close(cctx)
		}()
		webhook = wh
	}
	var nets []*net.IPNet
	for _, p := range cfg.TrustedProxyPrefixes() {
		nets = append(nets, ipNet(p))
	}
	srv := server.New(b, server.Options{
		APIKey: cfg.APIKey, MessagesWait: cfg.MessagesWait, InitWait: cfg.InitWait,
		BodyLimit: cfg.BodyLimit, RateRPS: cfg.RateLimit.RPS, RateBurst: cfg.RateLimit.Burst,
		TrustedProxies: nets, SSL: cfg.SSL, Host: cfg.Host,
		Ready:       func(ctx context.Context) error { return rdb.Ping(ctx).Err() },
		LineWebhook: webhook, Gatherer: reg, Registerer: reg, Logger: log.With("component", "http"),
	})
	hs := &http.Server{
		Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: cfg.MessagesWait + 15*time.Second, IdleTimeout: 120 * time.Second,
	}
	runCtx, stopRun := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(runCtx) }()
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "url", "http://"+ln.Addr().String())
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		stopRun()
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	srv.Drain()
	_ = hs.Shutdown(sctx)
	stopRun()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	case <-sctx.Done():
	}
	return nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	_, n, err := net.ParseCIDR(p.String())
	if err != nil {
		return &net.IPNet{IP: net.IPv4zero, Mask: net.CIDRMask(32, 32)}
	}
	return n
}
