package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
	"github.com/line-sf-bridge/bridge/pkg/config"
	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent"
	"github.com/line-sf-bridge/bridge/pkg/server"
	"github.com/line-sf-bridge/bridge/pkg/store/redisstore"
)

// run is the whole program: it returns when ctx ends (SIGTERM) and
// everything has stopped, or on a start-up error.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bridge", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() { usage(stdout) }
	demo := fs.Bool("demo", false, "run with an embedded store and Live Agent simulator")
	file := fs.String("config", "", "YAML configuration file")
	addr := fs.String("addr", "", "listen address (default :$PORT)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	switch fs.Arg(0) {
	case "":
	case "migrate":
		fmt.Fprintln(stdout, "bridge: nothing to migrate (state lives in Redis)")
		return nil
	case "version":
		fmt.Fprintln(stdout, "bridge", version)
		return nil
	default:
		usage(stdout)
		return fmt.Errorf("unknown command %q", fs.Arg(0))
	}

	cfg, err := config.Load(getenv, *file)
	if err != nil {
		return err
	}
	cfg.Demo = *demo
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	log := newLogger(cfg, stdout)
	log.Info("starting", "version", version, "config", cfg.Redacted())
	for _, n := range cfg.Notes() {
		log.Info("configuration note", "note", n)
	}
	for _, w := range cfg.Warnings() {
		log.Warn(w)
	}
	if *addr == "" {
		*addr = ":" + strconv.Itoa(cfg.Port)
	}

	var stack stack
	defer stack.close()
	rdb, err := openRedis(ctx, cfg, &stack, log)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	store := redisstore.New(rdb, redisstore.Options{Prefix: cfg.RedisKeyPrefix, Retention: cfg.Relay.ChatRetention})
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "bridge_chats_active", Help: "Customers with an open chat or deliveries in flight, across all instances.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		n, err := store.ActiveCount(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	}))

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	base := "http://" + hostPort(ln.Addr())

	var routes []func(*serverRoutes)
	demoLINE := setupDemoLINE(cfg, base, &routes, &stack)
	desk, deskReady, err := newDesk(cfg, base, &routes, &stack, log)
	if err != nil {
		_ = ln.Close()
		return err
	}
	parts, err := newParts(ctx, cfg, rdb, store, reg, log)
	if err != nil {
		_ = ln.Close()
		return err
	}
	b := bridge.New(store, desk, parts.sinks, bridge.Options{
		LeaseTTL: cfg.Relay.LeaseTTL, ScanInterval: cfg.Relay.LeaseScanInterval,
		Logger: log.With("component", "bridge"), Metrics: bridge.NewMetrics(reg),
	})
	if cfg.Demo {
		routes = append(routes, demoRoutes(base, demoLINE, b, log))
	}
	if err := parts.attach(b); err != nil {
		_ = ln.Close()
		return err
	}
	defer parts.close()
	srv := server.New(b, server.Options{
		APIKey: cfg.APIKey, MessagesWait: cfg.MessagesWait, InitWait: cfg.InitWait,
		BodyLimit: cfg.BodyLimit, RateRPS: cfg.RateLimit.RPS, RateBurst: cfg.RateLimit.Burst,
		TrustedProxies: ipNets(cfg.TrustedProxyPrefixes()), SSL: cfg.SSL, Host: cfg.Host,
		Ready: func(ctx context.Context) error {
			if err := rdb.Ping(ctx).Err(); err != nil {
				return fmt.Errorf("redis: %w", err)
			}
			return deskReady(ctx)
		},
		LineWebhook: parts.webhook, AdminKey: cfg.AdminAPIKey, Admin: parts.admin,
		Routes: func(e *serverRoutes) {
			for _, r := range routes {
				r(e)
			}
		},
		Gatherer: reg, Registerer: reg, Logger: log.With("component", "http"),
	})
	hs := &http.Server{
		Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: cfg.MessagesWait + 15*time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	runCtx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	goRun := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(runCtx); err != nil && !errors.Is(err, context.Canceled) {
				errs <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	goRun("bridge", b.Run)
	for name, f := range parts.runners {
		goRun(name, f)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "url", base)
	if cfg.Demo {
		printDemo(stdout, base)
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	case err := <-serveErr:
		runErr = fmt.Errorf("http: %w", err)
	case err := <-errs:
		runErr = err
	}
	// Stop accepting; answer the long polls at once; then stop driving
	// chats (their leases are released so another instance adopts them).
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	srv.Drain()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
		_ = hs.Close()
	}
	stopRun()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-sctx.Done():
		log.Warn("shutdown timed out; exiting with work in flight")
	}
	log.Info("stopped")
	return runErr
}

type serverRoutes = echo.Echo

// stack closes what run opened, last first.
type stack struct{ closers []func() }

func (s *stack) add(f func()) { s.closers = append(s.closers, f) }
func (s *stack) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(cfg.LogFormat, "text") {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// openRedis connects to REDIS_URL, or starts the embedded in-process store.
func openRedis(ctx context.Context, cfg *config.Config, st *stack, log *slog.Logger) (redis.UniversalClient, error) {
	noMaint := &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	if cfg.RedisURL == "" {
		m := miniredis.NewMiniRedis()
		if err := m.StartAddr("127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("embedded store: %w", err)
		}
		st.add(m.Close)
		log.Warn("REDIS_URL is not set: using an embedded in-process store. State is lost on restart and " +
			"instances cannot share chats; run a single instance only, or set REDIS_URL.")
		rdb := redis.NewClient(&redis.Options{Addr: m.Addr(), MaintNotificationsConfig: noMaint})
		st.add(func() { _ = rdb.Close() })
		return rdb, nil
	}
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	if opt.TLSConfig != nil {
		// Heroku Key-Value Store presents a self-signed certificate.
		opt.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true} //nolint:gosec // documented Heroku requirement
	}
	opt.MaintNotificationsConfig = noMaint
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 5*time.Second, 5*time.Second, 5*time.Second
	opt.ContextTimeoutEnabled = true
	// Thousands of chats share the pool; go-redis's default (10 per CPU)
	// makes them queue for a connection under load.
	opt.PoolSize = max(opt.PoolSize, 64)
	rdb := redis.NewClient(opt)
	st.add(func() { _ = rdb.Close() })
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		return nil, fmt.Errorf("redis at %s: %w", opt.Addr, err)
	}
	return rdb, nil
}

func newLiveAgentClient(cfg *config.Config, host string, hc *http.Client) *liveagent.Client {
	return liveagent.NewClient(liveagent.Config{
		Host: host, OrgID: cfg.LiveAgent.OrganizationID, DeploymentID: cfg.LiveAgent.DeploymentID,
		ButtonID: cfg.LiveAgent.ButtonID, APIVersion: cfg.LiveAgent.APIVersion, UserAgent: cfg.LiveAgent.UserAgent,
		Language: cfg.LiveAgent.Language, RequestTimeout: cfg.LiveAgent.RequestTimeout,
	}, hc)
}

func hostPort(a net.Addr) string {
	h, p, _ := net.SplitHostPort(a.String())
	if h == "" || h == "::" || h == "0.0.0.0" {
		h = "localhost"
	}
	return net.JoinHostPort(h, p)
}

func ipNets(ps []netip.Prefix) []*net.IPNet {
	var out []*net.IPNet
	for _, p := range ps {
		_, n, err := net.ParseCIDR(p.String())
		if err == nil {
			out = append(out, n)
		}
	}
	return out
}
