package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/line-sf-bridge/bridge/scripts/bench/harness"
)

func run(ctx context.Context, cfg benchConfig, out io.Writer) (*report, error) {
	log := &logger{w: out, start: time.Now()}
	rep := &report{cfg: cfg, machine: harness.DescribeMachine(), started: time.Now(), loadBefore: harness.Loadavg()}
	log.printf("machine: %s; load average %s", rep.machine, rep.loadBefore)
	log.printf("output in %s", cfg.out)

	w := newWorld(cfg, log)
	defer w.close()

	// Redis.
	if cfg.redis == "spawn" {
		r, err := harness.SpawnRedis(ctx, filepath.Join(cfg.out, "redis"), false)
		if err != nil {
			return nil, err
		}
		defer r.Stop()
		w.redis, w.redisURL = r, r.URL()
	} else {
		w.redisURL = cfg.redis
	}
	w.rdb = harness.NewClient(w.redisURL)
	defer w.rdb.Close()
	if err := w.rdb.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("redis at %s: %w (start one, or use -redis=spawn)", w.redisURL, err)
	}
	rep.redisVersion = harness.RedisVersion(ctx, w.rdb)
	runID := fmt.Sprintf("%x", time.Now().UnixNano())
	prefix := "bench:" + runID + ":"
	rep.prefix = prefix
	if !cfg.keep {
		defer func() {
			cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for _, p := range []string{prefix, "benchrt:" + runID + ":"} {
				_, _ = harness.DeletePrefix(cctx, w.rdb, p)
			}
		}()
	}

	// The bridge binary.
	if cfg.bridgeMode == "binary" {
		w.bin = cfg.bridgeBin
		if w.bin == "" {
			w.bin = filepath.Join(cfg.out, "bridge")
			log.printf("building ./cmd/bridge")
			if err := harness.BuildBridge(ctx, w.bin, false); err != nil {
				return nil, err
			}
		}
	}
	spec := bridgeSpec{name: "bridge", mode: cfg.bridgeMode, binary: w.bin, redisURL: w.redisURL, prefix: prefix,
		simURL: w.simSrv.URL, lineURL: w.lsSrv.URL, pprof: cfg.pprof, logDir: cfg.out}
	bp, err := startBridge(ctx, spec)
	if err != nil {
		return rep, err
	}
	stopped := false
	defer func() {
		if !stopped {
			bp.child.Kill()
		}
	}()
	time.Sleep(2 * time.Second)
	rep.baseline = bp.sample()
	if ms, err := bp.metrics(ctx); err == nil {
		rep.baseHeap, rep.baseGoroutines = ms["go_memstats_heap_inuse_bytes"], ms["go_goroutines"]
	}
	log.printf("bridge (%s) up at %s, pid %d, RSS %s", cfg.bridgeMode, bp.url, bp.child.Pid(), harness.MiB(rep.baseline.RSS))

	var chats []chat
	for _, level := range cfg.levels {
		if ctx.Err() != nil {
			break
		}
		lr := levelResult{level: level}
		from := len(chats)
		for i := from; i < level; i++ {
			chats = append(chats, chat{user: fmt.Sprintf("U%s%0*d", runID, 32-len(runID), i), name: fmt.Sprintf("bench-%d", i)})
		}
		start := time.Now()
		fails, err := w.openChats(ctx, bp, chats[from:])
		if err != nil {
			return rep, err
		}
		lr.openFailed = fails
		lr.openTime = time.Since(start)
		acc, missing := w.mapAndAccept(chats[from:])
		log.printf("level %d: opened %d chats in %s (%d /init failures, %d not found in the simulator, %d accepted)",
			level, level-from, lr.openTime.Round(time.Millisecond), fails, missing, acc)
		joined := w.waitJoined(ctx, chats, 30*time.Second+time.Duration(level)*5*time.Millisecond)
		lr.joined = joined
		if _, err := bp.waitMetric(ctx, "bridge_chats_owned", func(v float64) bool { return int(v) >= level-fails-missing }, 30*time.Second); err != nil {
			log.printf("level %d: %v", level, err)
		}
		time.Sleep(cfg.settle)

		// Steady state: the bridge only keeps the chats polled.
		var cpuProf string
		var benchProf *os.File
		profDone := make(chan struct{})
		profiling := cfg.pprof && slices.Contains(cfg.profileAt, level)
		if profiling {
			cpuProf = filepath.Join(cfg.out, fmt.Sprintf("cpu-idle-%d.pprof", level))
			go func() {
				defer close(profDone)
				secs := max(1, int(cfg.window.Seconds()))
				if err := fetch(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", bp.pprofAddr, secs), cpuProf); err != nil {
					log.printf("cpu profile: %v", err)
				}
			}()
			if f, err := os.Create(filepath.Join(cfg.out, fmt.Sprintf("cpu-bench-idle-%d.pprof", level))); err == nil {
				if pprof.StartCPUProfile(f) == nil {
					benchProf = f
				} else {
					f.Close()
				}
			}
		} else {
			close(profDone)
		}
		w.simTap.ResetMaxPollGap()
		m := w.measure(ctx, bp, cfg.window)
		if benchProf != nil {
			pprof.StopCPUProfile()
			benchProf.Close()
		}
		<-profDone
		lr.steady = m
		names := map[string]bool{}
		for _, c := range chats {
			names[c.name] = true
		}
		lr.established, lr.ended, lr.other, _ = w.simHealth(names)
		lr.maxPollGap = w.simTap.MaxPollGap() // over the steady window
		if ms, err := bp.metrics(ctx); err == nil {
			lr.goroutines, lr.heapInuse = ms["go_goroutines"], ms["go_memstats_heap_inuse_bytes"]
			lr.stackInuse, lr.nextGC = ms["go_memstats_stack_inuse_bytes"], ms["go_memstats_next_gc_bytes"]
			lr.owned = ms["bridge_chats_owned"]
		}
		log.printf("level %d: steady %s: bridge CPU %.1f%% RSS %s goroutines %.0f heap %s stacks %s; sim+load %.1f%%; redis %.1f%%; machine %.1f%% of %d cores; polls %.0f/s; sim: %d established, %d ended, %d other",
			level, cfg.window, m.bridgeCPU, harness.MiB(m.bridgeRSS), lr.goroutines, harness.MiB(int64(lr.heapInuse)), harness.MiB(int64(lr.stackInuse)),
			m.benchCPU, m.redisCPU, m.machineBusy, rep.machine.CPUs, m.pollsPerSec, lr.established, lr.ended, lr.other)
		if profiling {
			heap := filepath.Join(cfg.out, fmt.Sprintf("heap-%d.pprof", level))
			if err := fetch(ctx, "http://"+bp.pprofAddr+"/debug/pprof/heap", heap); err == nil {
				rep.profiles = append(rep.profiles, profileOut{title: fmt.Sprintf("bridge heap (in use) at %d chats", level), path: heap, opts: "-sample_index=inuse_space"})
			}
			rep.profiles = append(rep.profiles, profileOut{title: fmt.Sprintf("bridge CPU, idle polling at %d chats", level), path: cpuProf},
				profileOut{title: fmt.Sprintf("bench process (simulator, fake LINE, load) CPU at %d chats", level), path: filepath.Join(cfg.out, fmt.Sprintf("cpu-bench-idle-%d.pprof", level)), opts: "bench"})
		}

		// Latency.
		lr.lat = w.latency(ctx, bp, chats, level)
		log.printf("level %d: latency agent→LINE %s | beyond simulator %s", level, lr.lat.push, lr.lat.pushNet)
		log.printf("level %d: latency agent→/messages %s | beyond simulator %s", level, lr.lat.pull, lr.lat.pullNet)

		if slices.Contains(cfg.loadAt, level) {
			var prof string
			if profiling {
				prof = filepath.Join(cfg.out, fmt.Sprintf("cpu-relay-%d.pprof", level))
			}
			lr.relay = w.relayPhase(ctx, bp, chats, level, m, prof)
			if prof != "" {
				rep.profiles = append(rep.profiles, profileOut{title: fmt.Sprintf("bridge CPU, agent→LINE relay at %d/s, %d chats", cfg.relayRate, level), path: prof})
			}
			log.printf("level %d: relay %s", level, lr.relay)
			if profiling {
				prof = filepath.Join(cfg.out, fmt.Sprintf("cpu-send-%d.pprof", level))
			}
			lr.send = w.sendPhase(ctx, bp, chats, level, m, prof)
			if prof != "" {
				rep.profiles = append(rep.profiles, profileOut{title: fmt.Sprintf("bridge CPU, /send with %d clients, %d chats", cfg.sendClients, level), path: prof})
			}
			log.printf("level %d: send %s", level, lr.send)
		}
		rep.levels = append(rep.levels, lr)
	}
	if ms, err := bp.metrics(ctx); err == nil {
		rep.relayedTotal = ms[`bridge_sink_events_total{sink="line_push"}`]
	}
	log.printf("stopping the bridge (SIGTERM) with %d chats", len(chats))
	rep.shutdown = bp.stop()
	stopped = true
	log.printf("bridge exited after %s", rep.shutdown.Round(time.Millisecond))

	if cfg.rtChats > 0 && ctx.Err() == nil {
		rt, err := w.roundTrips(ctx, "benchrt:"+runID+":", runID)
		if err != nil {
			log.printf("round-trip phase: %v", err)
		}
		rep.rt = rt
	}
	rep.batches = w.simTap.Stats()
	for i := range rep.profiles {
		rep.profiles[i].top = pprofTop(rep.profiles[i])
	}
	rep.loadAfter = harness.Loadavg()
	rep.elapsed = time.Since(rep.started)
	return rep, ctx.Err()
}

// measurement is one window of resource use.
type measurement struct {
	window      time.Duration
	bridgeCPU   float64 // % of one core
	bridgeCPUs  time.Duration
	bridgeRSS   int64
	benchCPU    float64
	redisCPU    float64
	machineBusy float64 // % of all cores
	pollsPerSec float64
}

func (w *world) measure(ctx context.Context, bp *bridgeProc, d time.Duration) measurement {
	b0, s0, r0, p0 := bp.sample(), mustSelf(), harness.RedisCPU(ctx, w.rdb), w.polls.Load()
	mb0, mt0 := harness.MachineCPU()
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	b1, s1, r1, p1 := bp.sample(), mustSelf(), harness.RedisCPU(ctx, w.rdb), w.polls.Load()
	mb1, mt1 := harness.MachineCPU()
	wall := b1.At.Sub(b0.At)
	m := measurement{window: wall, bridgeCPU: harness.CPUPercent(b0, b1), bridgeCPUs: b1.CPU - b0.CPU, bridgeRSS: b1.RSS,
		benchCPU: harness.CPUPercent(s0, s1), pollsPerSec: float64(p1-p0) / wall.Seconds()}
	if wall > 0 {
		m.redisCPU = 100 * float64(r1-r0) / float64(wall)
	}
	if mt1 > mt0 {
		m.machineBusy = 100 * float64(mb1-mb0) / float64(mt1-mt0)
	}
	return m
}

func mustSelf() harness.ProcSample {
	s, _ := harness.ReadProc(0)
	return s
}

type latencyResult struct {
	push, pushNet, pull, pullNet, simOwn harness.Summary
	lostPush, lostPull                   int
}

// latency runs rounds of: a /messages call waiting on each of K chats, then
// one agent text to each, spread over K×2 ms.
func (w *world) latency(ctx context.Context, bp *bridgeProc, chats []chat, level int) latencyResult {
	var push, pushNet, pull, pullNet, simOwn harness.Durations
	var res latencyResult
	k := min(w.cfg.latPerRound, len(chats))
	for round := 0; round < w.cfg.latRounds && ctx.Err() == nil; round++ {
		sample := make([]chat, 0, k)
		for _, i := range rand.Perm(len(chats))[:k] {
			if chats[i].simID != "" {
				sample = append(sample, chats[i])
			}
		}
		texts := make([]string, len(sample))
		for i := range sample {
			texts[i] = fmt.Sprintf("lat-%d-%d-%d", level, round, i)
		}
		base, _ := bp.metrics(ctx)
		waiting0 := base["bridge_http_long_polls_waiting"]
		var wg sync.WaitGroup
		pulled := make([]time.Time, len(sample))
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		for i, c := range sample {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := fmt.Sprintf(`{"line_id":%q}`, c.user)
				for rctx.Err() == nil {
					code, rb, err := post(rctx, bp.hc, bp.url+"/messages", body)
					if err != nil || code != 200 {
						time.Sleep(10 * time.Millisecond)
						continue
					}
					if typ, msg := seedReply(rb); typ == "message" && msg == texts[i] {
						pulled[i] = time.Now()
						return
					}
				}
			}()
		}
		if _, err := bp.waitMetric(ctx, "bridge_http_long_polls_waiting", func(v float64) bool { return v >= waiting0+float64(len(sample)) }, 10*time.Second); err != nil {
			w.log.printf("latency: %v", err)
		}
		for i, c := range sample {
			w.mu.Lock()
			w.sentAt[texts[i]] = time.Now()
			w.mu.Unlock()
			_ = w.sim.AgentSend(c.simID, texts[i])
			time.Sleep(2 * time.Millisecond)
		}
		for _, t := range texts {
			w.waitText(rctx, t, func() bool { _, ok := w.pushAt[t]; return ok }, 20*time.Second)
		}
		wg.Wait()
		cancel()
		w.mu.Lock()
		for i, t := range texts {
			s, p, sim := w.sentAt[t], w.pushAt[t], w.simAt[t]
			if !sim.IsZero() {
				simOwn.Add(sim.Sub(s))
			}
			if p.IsZero() {
				res.lostPush++
			} else {
				push.Add(p.Sub(s))
				if !sim.IsZero() {
					pushNet.Add(p.Sub(sim))
				}
			}
			if pulled[i].IsZero() {
				res.lostPull++
			} else {
				pull.Add(pulled[i].Sub(s))
				if !sim.IsZero() {
					pullNet.Add(pulled[i].Sub(sim))
				}
			}
		}
		w.mu.Unlock()
	}
	res.push, res.pushNet, res.pull, res.pullNet, res.simOwn = push.Summary(), pushNet.Summary(), pull.Summary(), pullNet.Summary(), simOwn.Summary()
	return res
}

type relayResult struct {
	sent, delivered int
	rate            float64 // delivered per second over the send window
	drain           time.Duration
	lat, latNet     harness.Summary
	cpu             time.Duration // bridge CPU from start to the last delivery
	cpuPer1k        time.Duration
	cpuPer1kNet     time.Duration // minus the idle polling cost of the same time
	redisPer1k      time.Duration
	benchPer1k      time.Duration
}

func (r relayResult) String() string {
	return fmt.Sprintf("sent %d, delivered %d (%.0f/s), drained %s after the last send; latency %s, beyond simulator %s; bridge CPU per 1,000 messages %s (net of idle polling %s), Redis %s, sim+LINE+load %s",
		r.sent, r.delivered, r.rate, r.drain.Round(time.Millisecond), r.lat, r.latNet, r.cpuPer1k.Round(time.Millisecond),
		r.cpuPer1kNet.Round(time.Millisecond), r.redisPer1k.Round(time.Millisecond), r.benchPer1k.Round(time.Millisecond))
}

// relayPhase sends agent texts at the configured rate across the chats and
// waits for every one at LINE.
func (w *world) relayPhase(ctx context.Context, bp *bridgeProc, chats []chat, level int, idle measurement, prof string) relayResult {
	var res relayResult
	live := make([]chat, 0, len(chats))
	for _, c := range chats {
		if c.simID != "" {
			live = append(live, c)
		}
	}
	if len(live) == 0 {
		return res
	}
	profDone := make(chan struct{})
	if prof != "" {
		go func() {
			defer close(profDone)
			_ = fetch(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", bp.pprofAddr, max(1, int(w.cfg.relayDur.Seconds()))), prof)
		}()
	} else {
		close(profDone)
	}
	b0, s0, r0 := bp.sample(), mustSelf(), harness.RedisCPU(ctx, w.rdb)
	start := time.Now()
	var texts []string
	tick := time.NewTicker(10 * time.Millisecond)
	perTick := max(1, w.cfg.relayRate/100)
	n := 0
	for time.Since(start) < w.cfg.relayDur && ctx.Err() == nil {
		<-tick.C
		for range perTick {
			c := live[n%len(live)]
			t := fmt.Sprintf("relay-%d-%d", level, n)
			n++
			w.mu.Lock()
			w.sentAt[t] = time.Now()
			w.mu.Unlock()
			if w.sim.AgentSend(c.simID, t) == nil {
				texts = append(texts, t)
			}
		}
	}
	tick.Stop()
	sendEnd := time.Now()
	res.sent = len(texts)
	deadline := time.Now().Add(60 * time.Second)
	var last time.Time
	for _, t := range texts {
		if !w.waitText(ctx, t, func() bool { _, ok := w.pushAt[t]; return ok }, time.Until(deadline)) {
			continue
		}
	}
	b1, s1, r1 := bp.sample(), mustSelf(), harness.RedisCPU(ctx, w.rdb)
	<-profDone
	var lat, latNet harness.Durations
	w.mu.Lock()
	inWindow := 0
	for _, t := range texts {
		p, ok := w.pushAt[t]
		if !ok {
			continue
		}
		res.delivered++
		if p.Before(sendEnd) {
			inWindow++
		}
		if p.After(last) {
			last = p
		}
		lat.Add(p.Sub(w.sentAt[t]))
		if s, ok := w.simAt[t]; ok {
			latNet.Add(p.Sub(s))
		}
	}
	w.mu.Unlock()
	res.rate = float64(inWindow) / sendEnd.Sub(start).Seconds()
	if !last.IsZero() {
		res.drain = max(0, last.Sub(sendEnd))
	}
	res.lat, res.latNet = lat.Summary(), latNet.Summary()
	res.cpu = b1.CPU - b0.CPU
	if res.delivered > 0 {
		k := float64(res.delivered) / 1000
		res.cpuPer1k = time.Duration(float64(res.cpu) / k)
		idleCPU := time.Duration(float64(idle.bridgeCPUs) * float64(b1.At.Sub(b0.At)) / float64(idle.window))
		res.cpuPer1kNet = time.Duration(float64(res.cpu-idleCPU) / k)
		res.redisPer1k = time.Duration(float64(r1-r0) / k)
		res.benchPer1k = time.Duration(float64(s1.CPU-s0.CPU) / k)
	}
	return res
}

type sendResult struct {
	clients          int
	ok, bad, errs    int
	rps              float64
	deliveredInWin   int
	deliveredRate    float64
	delivered        int
	drain            time.Duration
	lat, agentLat    harness.Summary
	cpuPer1k         time.Duration
	cpuPer1kNet      time.Duration
	redisPer1k       time.Duration
	benchPer1k       time.Duration
	bridgeCPUPercent float64
}

func (r sendResult) String() string {
	return fmt.Sprintf("%d clients: %d ok (%.0f req/s), %d bad, %d errors; /send latency %s; reached the agent: %d in the window (%.0f/s), %d in all, backlog drained %s after; /send→agent %s; bridge CPU %.0f%%, per 1,000 messages %s (net %s), Redis %s, sim+load %s",
		r.clients, r.ok, r.rps, r.bad, r.errs, r.lat, r.deliveredInWin, r.deliveredRate, r.delivered, r.drain.Round(time.Millisecond), r.agentLat,
		r.bridgeCPUPercent, r.cpuPer1k.Round(time.Millisecond), r.cpuPer1kNet.Round(time.Millisecond), r.redisPer1k.Round(time.Millisecond), r.benchPer1k.Round(time.Millisecond))
}

// sendPhase runs the /send clients for the configured time, then waits for
// every accepted message to reach the agent.
func (w *world) sendPhase(ctx context.Context, bp *bridgeProc, chats []chat, level int, idle measurement, prof string) sendResult {
	res := sendResult{clients: w.cfg.sendClients}
	live := make([]chat, 0, len(chats))
	for _, c := range chats {
		if c.simID != "" {
			live = append(live, c)
		}
	}
	if len(live) == 0 {
		return res
	}
	profDone := make(chan struct{})
	if prof != "" {
		go func() {
			defer close(profDone)
			_ = fetch(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", bp.pprofAddr, max(1, int(w.cfg.sendDur.Seconds()))), prof)
		}()
	} else {
		close(profDone)
	}
	var ok, bad, errs atomic.Int64
	var lat harness.Durations
	var mu sync.Mutex
	var acked []string
	b0, r0, s0 := bp.sample(), harness.RedisCPU(ctx, w.rdb), mustSelf()
	start := time.Now()
	sctx, cancel := context.WithDeadline(ctx, start.Add(w.cfg.sendDur))
	var wg sync.WaitGroup
	for ci := range w.cfg.sendClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []chat
			for i := ci; i < len(live); i += w.cfg.sendClients {
				mine = append(mine, live[i])
			}
			if len(mine) == 0 {
				mine = []chat{live[ci%len(live)]}
			}
			for n := 0; sctx.Err() == nil; n++ {
				c := mine[n%len(mine)]
				t := fmt.Sprintf("send-%d-%d-%d", level, ci, n)
				body := fmt.Sprintf(`{"line_id":%q,"message":%q}`, c.user, t)
				t0 := time.Now()
				w.mu.Lock()
				w.sendAt[t] = t0
				w.mu.Unlock()
				code, rb, err := post(sctx, bp.hc, bp.url+"/send", body)
				switch {
				case err != nil:
					if sctx.Err() == nil {
						errs.Add(1)
					}
				case code == 200 && strings.Contains(rb, `"send"`):
					ok.Add(1)
					lat.Add(time.Since(t0))
					mu.Lock()
					acked = append(acked, t)
					mu.Unlock()
				default:
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	cancel()
	end := time.Now()
	deadline := time.Now().Add(120 * time.Second)
	for _, t := range acked {
		w.waitText(ctx, t, func() bool { _, ok := w.visitorAt[t]; return ok }, time.Until(deadline))
	}
	b1, r1, s1 := bp.sample(), harness.RedisCPU(ctx, w.rdb), mustSelf()
	<-profDone
	res.ok, res.bad, res.errs = int(ok.Load()), int(bad.Load()), int(errs.Load())
	res.rps = float64(res.ok) / end.Sub(start).Seconds()
	res.lat = lat.Summary()
	var agentLat harness.Durations
	var last time.Time
	w.mu.Lock()
	for _, t := range acked {
		v, ok := w.visitorAt[t]
		if !ok {
			continue
		}
		res.delivered++
		if v.Before(end) {
			res.deliveredInWin++
		}
		if v.After(last) {
			last = v
		}
		agentLat.Add(v.Sub(w.sendAt[t]))
	}
	w.mu.Unlock()
	res.deliveredRate = float64(res.deliveredInWin) / end.Sub(start).Seconds()
	res.agentLat = agentLat.Summary()
	if !last.IsZero() {
		res.drain = max(0, last.Sub(end))
	}
	res.bridgeCPUPercent = harness.CPUPercent(b0, b1)
	if res.delivered > 0 {
		k := float64(res.delivered) / 1000
		cpu := b1.CPU - b0.CPU
		res.cpuPer1k = time.Duration(float64(cpu) / k)
		idleCPU := time.Duration(float64(idle.bridgeCPUs) * float64(b1.At.Sub(b0.At)) / float64(idle.window))
		res.cpuPer1kNet = time.Duration(float64(cpu-idleCPU) / k)
		res.redisPer1k = time.Duration(float64(r1-r0) / k)
		res.benchPer1k = time.Duration(float64(s1.CPU-s0.CPU) / k)
	}
	return res
}

type rtScenario struct {
	name       string
	messages   int
	roundTrips float64 // per message, idle baseline removed
	commands   float64
	byName     map[string]float64
}

type rtResult struct {
	chats         int
	idleRTPerSec  float64
	idleCmdPerSec float64
	idleByName    map[string]float64
	scenarios     []rtScenario
}

// roundTrips measures Redis traffic per message on a second bridge process
// that reaches Redis through the counting proxy.
func (w *world) roundTrips(ctx context.Context, prefix, runID string) (*rtResult, error) {
	u, err := url.Parse(w.redisURL)
	if err != nil {
		return nil, err
	}
	proxy, err := harness.NewCountingProxy(u.Host)
	if err != nil {
		return nil, err
	}
	defer proxy.Close()
	pu := *u
	pu.Host = proxy.Addr()
	spec := bridgeSpec{name: "bridge-rt", mode: w.cfg.bridgeMode, binary: w.bin, redisURL: pu.String(), prefix: prefix,
		simURL: w.simSrv.URL, lineURL: w.lsSrv.URL, logDir: w.cfg.out, extraEnv: []string{"MESSAGES_WAIT=2s"}}
	bp, err := startBridge(ctx, spec)
	if err != nil {
		return nil, err
	}
	defer bp.stop()
	res := &rtResult{chats: w.cfg.rtChats}
	chats := make([]chat, w.cfg.rtChats)
	for i := range chats {
		chats[i] = chat{user: fmt.Sprintf("Urt%s%0*d", runID, 29-len(runID), i), name: fmt.Sprintf("rt-%s-%d", runID, i)}
	}
	if _, err := w.openChats(ctx, bp, chats); err != nil {
		return res, err
	}
	w.mapAndAccept(chats)
	w.waitJoined(ctx, chats, 30*time.Second)
	time.Sleep(2 * time.Second)
	idleDur := 10 * time.Second
	if w.cfg.quick {
		idleDur = 3 * time.Second
	}
	c0, t0 := proxy.Counts(), time.Now()
	time.Sleep(idleDur)
	c1, t1 := proxy.Counts(), time.Now()
	idle := c1.Sub(c0)
	secs := t1.Sub(t0).Seconds()
	res.idleRTPerSec, res.idleCmdPerSec = float64(idle.RoundTrips)/secs, float64(idle.Commands)/secs
	res.idleByName = map[string]float64{}
	for k, v := range idle.ByName {
		res.idleByName[k] = float64(v) / secs
	}
	w.log.printf("round trips: idle %d chats: %.1f round trips/s, %.1f commands/s", len(chats), res.idleRTPerSec, res.idleCmdPerSec)

	scenario := func(name string, one func(i int) bool) {
		a, ta := proxy.Counts(), time.Now()
		n := 0
		for i := 0; i < w.cfg.rtMsgs && ctx.Err() == nil; i++ {
			if one(i) {
				n++
			}
		}
		time.Sleep(300 * time.Millisecond) // let the last drains finish
		b, tb := proxy.Counts(), time.Now()
		d := b.Sub(a)
		el := tb.Sub(ta).Seconds()
		sc := rtScenario{name: name, messages: n, byName: map[string]float64{}}
		if n > 0 {
			sc.roundTrips = (float64(d.RoundTrips) - res.idleRTPerSec*el) / float64(n)
			sc.commands = (float64(d.Commands) - res.idleCmdPerSec*el) / float64(n)
			for _, k := range d.Names() {
				v := (float64(d.ByName[k]) - res.idleByName[k]*el) / float64(n)
				if v >= 0.05 {
					sc.byName[k] = v
				}
			}
		}
		res.scenarios = append(res.scenarios, sc)
		w.log.printf("round trips: %s: %d messages, %.1f round trips and %.1f commands per message", name, n, sc.roundTrips, sc.commands)
	}
	scenario("agent text → LINE push (no /messages caller)", func(i int) bool {
		c := chats[i%len(chats)]
		t := fmt.Sprintf("rt-a-%s-%d", runID, i)
		if w.sim.AgentSend(c.simID, t) != nil {
			return false
		}
		return w.waitText(ctx, t, func() bool { _, ok := w.pushAt[t]; return ok }, 10*time.Second)
	})
	// Empty each chat's /messages queue (the texts of the first scenario),
	// so that the next one counts only its own traffic.
	var dwg sync.WaitGroup
	for _, c := range chats {
		dwg.Add(1)
		go func() {
			defer dwg.Done()
			for range 50 {
				code, rb, err := post(ctx, bp.hc, bp.url+"/messages", fmt.Sprintf(`{"line_id":%q}`, c.user))
				if err != nil || code != 200 {
					return
				}
				if typ, _ := seedReply(rb); typ == "" {
					return // null: nothing left
				}
			}
		}()
	}
	dwg.Wait()
	time.Sleep(time.Second)
	scenario("agent text → LINE push and a waiting /messages call", func(i int) bool {
		c := chats[i%len(chats)]
		t := fmt.Sprintf("rt-b-%s-%d", runID, i)
		got := make(chan bool, 1)
		go func() {
			body := fmt.Sprintf(`{"line_id":%q}`, c.user)
			for range 5 {
				code, rb, err := post(ctx, bp.hc, bp.url+"/messages", body)
				if err == nil && code == 200 {
					if typ, msg := seedReply(rb); typ == "message" && msg == t {
						got <- true
						return
					}
				}
			}
			got <- false
		}()
		// Give the call time to start waiting (scraping /metrics to be sure
		// would add the scrape's own Redis commands to the count).
		time.Sleep(30 * time.Millisecond)
		if w.sim.AgentSend(c.simID, t) != nil {
			return false
		}
		pushed := w.waitText(ctx, t, func() bool { _, ok := w.pushAt[t]; return ok }, 10*time.Second)
		return <-got && pushed
	})
	scenario("customer /send → agent", func(i int) bool {
		c := chats[i%len(chats)]
		t := fmt.Sprintf("rt-c-%s-%d", runID, i)
		code, rb, err := post(ctx, bp.hc, bp.url+"/send", fmt.Sprintf(`{"line_id":%q,"message":%q}`, c.user, t))
		if err != nil || code != 200 || !strings.Contains(rb, "send") {
			return false
		}
		return w.waitText(ctx, t, func() bool { _, ok := w.visitorAt[t]; return ok }, 10*time.Second)
	})
	return res, nil
}

type profileOut struct {
	title, path, opts string
	top               string
}

// pprofTop runs go tool pprof -top on a profile.
func pprofTop(p profileOut) string {
	if _, err := os.Stat(p.path); err != nil {
		return "(no profile: " + err.Error() + ")"
	}
	args := []string{"tool", "pprof", "-top", "-nodecount=25"}
	if p.opts != "" && p.opts != "bench" {
		args = append(args, p.opts)
	}
	exe, _ := os.Executable()
	args = append(args, exe, p.path)
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("(go tool pprof: %v)\n%s", err, out)
	}
	_ = os.WriteFile(strings.TrimSuffix(p.path, ".pprof")+".top.txt", out, 0o644)
	return string(out)
}
