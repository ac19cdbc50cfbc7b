// Command liveagent-sim serves a simulated Salesforce Live Agent (legacy Chat) for local
// development and demos: the Chat REST API under /chat/rest/, the agent control API under
// /control/ (api/liveagent-sim.yaml), and an agent console at /console/.
//
//	go run ./cmd/liveagent-sim                  # listens on :8089 (or $PORT)
//	go run ./cmd/liveagent-sim -addr :9000 -hold 5s -poll-timeout 40s -auto-accept 2s -auto-reply
//
// Point the bridge at it with LIVEAGENT_HOST=http://localhost:8089.
package main

import (
	"github.com/line-sf-bridge/bridge/pkg/demo"

	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent/lasim"
	"github.com/line-sf-bridge/bridge/pkg/desk/miaw/miawsim"
)

// DefaultAddr is the listen address when neither -addr nor PORT is given.
const DefaultAddr = ":8089"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "liveagent-sim:", err)
		os.Exit(1)
	}
}

type config struct {
	desk         string
	addr         string
	hold         time.Duration
	pollTimeout  time.Duration
	firstSeq     int64
	autoAccept   time.Duration
	autoReply    bool
	agentName    string
	orgID        string
	deploymentID string
	baseURL      string
	expiredPolls int
	logFormat    string
	shutdown     time.Duration
}

func parseFlags(args []string, getenv func(string) string, out io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("liveagent-sim", flag.ContinueOnError)
	fs.SetOutput(out)
	defAddr := DefaultAddr
	if p := getenv("PORT"); p != "" {
		defAddr = ":" + p
	}
	fs.StringVar(&c.desk, "desk", "liveagent", "which Salesforce API to simulate: liveagent (legacy Chat) or miaw (Enhanced Chat)")
	fs.StringVar(&c.addr, "addr", defAddr, "listen address (default :8089, or :$PORT when PORT is set)")
	fs.DurationVar(&c.hold, "hold", 30*time.Second, "how long a Messages poll holds before 204")
	fs.DurationVar(&c.pollTimeout, "poll-timeout", 40*time.Second, "clientPollTimeout: sessions not polled for this long expire")
	fs.Int64Var(&c.firstSeq, "first-sequence", 0, "sequence of the first Messages payload (0 or 1)")
	fs.DurationVar(&c.autoAccept, "auto-accept", 0, "if > 0, the agent accepts every chat this long after ChasitorInit")
	fs.BoolVar(&c.autoReply, "auto-reply", false, `the agent answers every visitor message with "Echo: <text>"`)
	fs.StringVar(&c.agentName, "agent-name", "Agent Smith", "name of the simulated agent")
	fs.StringVar(&c.orgID, "org-id", "", "if set, ChasitorInit and uploads must use this organizationId")
	fs.StringVar(&c.deploymentID, "deployment-id", "", "if set, ChasitorInit must use this deploymentId")
	fs.StringVar(&c.baseURL, "base-url", "", "external base URL for file upload URLs (default: from the request's Host)")
	fs.IntVar(&c.expiredPolls, "expired-polls", 0, "polls answered 204 after an expiry before the 403s start")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format: text or json")
	fs.DurationVar(&c.shutdown, "shutdown-timeout", 10*time.Second, "graceful shutdown timeout")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if c.desk != "liveagent" && c.desk != "miaw" {
		return c, errors.New("-desk must be liveagent or miaw")
	}
	if c.firstSeq != 0 && c.firstSeq != 1 {
		return c, errors.New("-first-sequence must be 0 or 1")
	}
	if c.hold <= 0 || c.pollTimeout <= 0 {
		return c, errors.New("-hold and -poll-timeout must be positive")
	}
	if c.logFormat != "text" && c.logFormat != "json" {
		return c, errors.New("-log-format must be text or json")
	}
	return c, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := parseFlags(args, getenv, stdout)
	if err != nil {
		return err
	}
	var h slog.Handler = slog.NewTextHandler(stdout, nil)
	if cfg.logFormat == "json" {
		h = slog.NewJSONHandler(stdout, nil)
	}
	log := slog.New(h)

	var sim interface {
		http.Handler
		Close() error
	}
	mux := http.NewServeMux()
	if cfg.desk == "miaw" {
		m := miawsim.New(miawsim.Options{
			OrgID: cfg.orgID, DeploymentName: cfg.deploymentID, AgentName: cfg.agentName,
			AutoAccept: cfg.autoAccept, AutoReply: cfg.autoReply, Logger: log,
		})
		sim = m
		mux.Handle("/", m)
	} else {
		l := lasim.New(lasim.Options{
			OrgID:             cfg.orgID,
			DeploymentID:      cfg.deploymentID,
			HoldTime:          cfg.hold,
			ClientPollTimeout: cfg.pollTimeout,
			ExpiredPolls:      cfg.expiredPolls,
			FirstSequence:     cfg.firstSeq,
			AgentName:         cfg.agentName,
			AutoAccept:        cfg.autoAccept,
			AutoReply:         cfg.autoReply,
			BaseURL:           cfg.baseURL,
			Logger:            log,
		})
		sim = l
		mux.Handle("/console/", http.StripPrefix("/console", demo.AgentConsole()))
		mux.Handle("GET /{$}", http.RedirectHandler("/console/", http.StatusFound))
		mux.Handle("GET /console", http.RedirectHandler("/console/", http.StatusFound))
		mux.Handle("/", l)
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		_ = sim.Close()
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           accessLog(log, mux),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("simulator listening", "desk", cfg.desk,
		"addr", ln.Addr().String(), "console", "http://"+displayAddr(ln.Addr())+"/console/",
		"hold", cfg.hold, "clientPollTimeout", cfg.pollTimeout, "firstSequence", cfg.firstSeq,
		"autoAccept", cfg.autoAccept, "autoReply", cfg.autoReply)

	select {
	case err := <-errc:
		_ = sim.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	// Release holding polls and event streams first, so Shutdown does not wait for them.
	_ = sim.Close()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdown)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}

func displayAddr(a net.Addr) string {
	s := a.String()
	if strings.HasPrefix(s, "[::]:") {
		return "localhost:" + strings.TrimPrefix(s, "[::]:")
	}
	if strings.HasPrefix(s, "0.0.0.0:") {
		return "localhost:" + strings.TrimPrefix(s, "0.0.0.0:")
	}
	return s
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// accessLog logs one line per request. It never logs header values (the session key is the
// chat's credential) nor query strings (upload URLs carry file tokens).
func accessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		path := r.URL.Path
		if strings.HasPrefix(path, "/chat/rest/System/SessionId/") {
			path = "/chat/rest/System/SessionId/{key}"
		}
		level := slog.LevelInfo
		if path == "/control/events" || strings.HasPrefix(path, "/control/") && r.Method == http.MethodGet {
			level = slog.LevelDebug
		}
		log.Log(r.Context(), level, "request",
			"method", r.Method, "path", path, "status", rec.status, "duration", time.Since(start).Round(time.Millisecond))
	})
}
