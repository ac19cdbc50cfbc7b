// Command bench measures one bridge instance against the Live Agent
// simulator (lasim) and the fake LINE platform (linesim), on loopback, with
// a real Redis:
//
//   - open chats one instance sustains (agents accept them, the bridge keeps
//     them polled), with the bridge's CPU, RSS, goroutines and heap at each
//     level, and memory per open chat;
//   - relay latency from the agent's send to the LINE push and to the
//     /messages answer (p50, p99), also net of the simulator's own time;
//   - agent → LINE relay throughput and CPU per 1,000 messages;
//   - /send throughput with concurrent keep-alive clients, and CPU per 1,000
//     customer messages;
//   - Redis round trips and commands per relayed message (through a
//     counting proxy, on a second bridge process);
//   - optionally CPU and heap profiles (pprof) at one level.
//
// Everything runs on loopback and stops by itself. The simulator, the fake
// LINE platform and the load generator run in this process; Redis is the
// local server (or one spawned with -redis=spawn); the bridge is a child
// process (the real cmd/bridge binary, or this program re-executed with
// the same wiring plus pprof for -bridge=self). They all share the
// machine's cores: the report shows each one's CPU.
//
//	go run ./scripts/bench -quick                # < 60 s smoke run
//	go run ./scripts/bench                       # 1k, 5k, 10k chats (about 10 minutes)
//	go run ./scripts/bench -bridge=self -pprof -levels=5000 -profile-at=5000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type benchConfig struct {
	levels      []int
	hold        time.Duration
	pollTimeout time.Duration
	settle      time.Duration
	window      time.Duration
	openConc    int
	latRounds   int
	latPerRound int
	loadAt      []int
	relayRate   int
	relayDur    time.Duration
	sendClients int
	sendDur     time.Duration
	rtChats     int
	rtMsgs      int
	redis       string
	bridgeMode  string
	bridgeBin   string
	pprof       bool
	profileAt   []int
	out         string
	quick       bool
	keep        bool
}

func main() {
	role := flag.String("role", "", "internal: -role=bridge runs the self-wired bridge")
	addr := flag.String("addr", "127.0.0.1:0", "internal: listen address of -role=bridge")
	var cfg benchConfig
	levels := flag.String("levels", "1000,5000,10000", "open-chat levels to reach, in order")
	flag.DurationVar(&cfg.hold, "hold", 30*time.Second, "simulator hold time of a Messages long poll (Salesforce: about 30s)")
	flag.DurationVar(&cfg.pollTimeout, "poll-timeout", 10*time.Minute, "simulator clientPollTimeout (high, so a slow bridge shows as slowness, not expiry)")
	flag.DurationVar(&cfg.settle, "settle", 5*time.Second, "pause after a level is reached, before measuring")
	flag.DurationVar(&cfg.window, "window", 30*time.Second, "steady-state measurement window at each level")
	flag.IntVar(&cfg.openConc, "open-concurrency", 32, "concurrent /init calls while opening chats")
	flag.IntVar(&cfg.latRounds, "lat-rounds", 5, "latency rounds per level")
	flag.IntVar(&cfg.latPerRound, "lat-chats", 100, "chats per latency round (each gets a waiting /messages call and one agent text)")
	loadAt := flag.String("load-at", "1000", "levels at which to run the relay and /send throughput phases")
	flag.IntVar(&cfg.relayRate, "relay-rate", 1000, "agent texts per second in the relay phase")
	flag.DurationVar(&cfg.relayDur, "relay-duration", 20*time.Second, "relay phase duration")
	flag.IntVar(&cfg.sendClients, "send-clients", 64, "concurrent keep-alive /send clients")
	flag.DurationVar(&cfg.sendDur, "send-duration", 20*time.Second, "/send phase duration")
	flag.IntVar(&cfg.rtChats, "rt-chats", 20, "chats of the Redis round-trip phase (0: skip it)")
	flag.IntVar(&cfg.rtMsgs, "rt-messages", 100, "messages per Redis round-trip scenario")
	flag.StringVar(&cfg.redis, "redis", "", "Redis URL, or \"spawn\" to start a throwaway redis-server (default $REDIS_TEST_URL or redis://127.0.0.1:6379)")
	flag.StringVar(&cfg.bridgeMode, "bridge", "binary", "bridge under test: binary (go build ./cmd/bridge) or self (same wiring + pprof)")
	flag.StringVar(&cfg.bridgeBin, "bridge-bin", "", "use this prebuilt cmd/bridge binary instead of building one")
	flag.BoolVar(&cfg.pprof, "pprof", false, "capture CPU and heap profiles at -profile-at (needs -bridge=self)")
	profileAt := flag.String("profile-at", "5000", "levels at which to profile (with -pprof)")
	flag.StringVar(&cfg.out, "out", "", "directory for logs, profiles and report.md (default: a new temp dir)")
	flag.BoolVar(&cfg.quick, "quick", false, "small sizes and short windows: finishes in under a minute")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the Redis keys of the run")
	flag.Parse()

	if *role == "bridge" {
		if err := runSelfBridge(*addr); err != nil {
			fmt.Fprintln(os.Stderr, "bench bridge:", err)
			os.Exit(1)
		}
		return
	}
	if cfg.quick {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		q := func(name string, apply func()) {
			if !set[name] {
				apply()
			}
		}
		q("levels", func() { *levels = "100,300" })
		q("hold", func() { cfg.hold = 5 * time.Second })
		q("settle", func() { cfg.settle = time.Second })
		q("window", func() { cfg.window = 4 * time.Second })
		q("lat-rounds", func() { cfg.latRounds = 2 })
		q("lat-chats", func() { cfg.latPerRound = 50 })
		q("load-at", func() { *loadAt = "300" })
		q("relay-rate", func() { cfg.relayRate = 300 })
		q("relay-duration", func() { cfg.relayDur = 4 * time.Second })
		q("send-clients", func() { cfg.sendClients = 16 })
		q("send-duration", func() { cfg.sendDur = 4 * time.Second })
		q("rt-chats", func() { cfg.rtChats = 10 })
		q("rt-messages", func() { cfg.rtMsgs = 30 })
		q("profile-at", func() { *profileAt = "300" })
	}
	var err error
	if cfg.levels, err = intList(*levels); err != nil {
		fatal(err)
	}
	if cfg.loadAt, err = intList(*loadAt); err != nil {
		fatal(err)
	}
	if cfg.profileAt, err = intList(*profileAt); err != nil {
		fatal(err)
	}
	if cfg.pprof && cfg.bridgeMode != "self" {
		fatal(errors.New("-pprof needs -bridge=self (cmd/bridge serves no pprof)"))
	}
	if cfg.redis == "" {
		cfg.redis = os.Getenv("REDIS_TEST_URL")
		if cfg.redis == "" {
			cfg.redis = "redis://127.0.0.1:6379"
		}
	}
	if cfg.out == "" {
		if cfg.out, err = os.MkdirTemp("", "bridge-bench-"); err != nil {
			fatal(err)
		}
	} else if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	total := 2 * time.Hour
	if cfg.quick {
		total = 3 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, total)
	defer cancel()
	rep, err := run(ctx, cfg, os.Stdout)
	if rep != nil {
		md := rep.markdown()
		fmt.Println()
		fmt.Print(md)
		_ = os.WriteFile(filepath.Join(cfg.out, "report.md"), []byte(md), 0o644)
		fmt.Printf("\nlogs, profiles and report.md in %s\n", cfg.out)
	}
	if err != nil {
		fatal(err)
	}
}

func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad number %q in list %q", f, s)
		}
		out = append(out, n)
	}
	return out, nil
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

// logf writes a progress line with the elapsed time.
type logger struct {
	w     io.Writer
	start time.Time
}

func (l *logger) printf(format string, args ...any) {
	fmt.Fprintf(l.w, "[%6.1fs] %s\n", time.Since(l.start).Seconds(), fmt.Sprintf(format, args...))
}
