package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent/lasim"
	"github.com/line-sf-bridge/bridge/pkg/line/linesim"
	"github.com/line-sf-bridge/bridge/scripts/bench/harness"
)

// Config of a soak run.
type Config struct {
	Chats         int
	Duration      time.Duration
	Instances     int
	Kills         int
	RedisRestarts int
	Terminate     int
	DeskFaults    bool
	LineFaults    bool
	Interval      time.Duration
	Hold          time.Duration
	RaceBridge    bool
	BridgeBin     string
	Seed          int64
	KeepDir       bool
	Verbose       bool
	// KnownDefects stops webhook messages that the reported defect of the
	// LINE webhook loses or reorders from failing the run: messages
	// acknowledged while Redis was down, or by an instance shortly before
	// it was killed. They are still counted and shown.
	KnownDefects bool
	// Drain bounds the wait for the last deliveries after the traffic.
	Drain time.Duration
	Log   io.Writer
}

// DefaultConfig is the full soak: 60 chats for 5 minutes.
func DefaultConfig() Config {
	return Config{
		Chats: 60, Duration: 5 * time.Minute, Instances: 3, Kills: 4, RedisRestarts: 2, Terminate: 2,
		DeskFaults: true, LineFaults: true, Interval: 1500 * time.Millisecond, Hold: 3 * time.Second, Drain: 90 * time.Second,
	}
}

// ShortConfig is -short: 20 chats for 60 s.
func ShortConfig() Config {
	c := DefaultConfig()
	c.Chats, c.Duration, c.Kills, c.RedisRestarts, c.Terminate = 20, 60*time.Second, 2, 1, 1
	return c
}

const (
	channelSecret = "soak-channel-secret"
	channelToken  = "soak-channel-token"
	agentName     = "Agent Soak"
	keyPrefix     = "soak:"
)

// window is a fault in time: Redis down (instance -1) or an instance killed.
type window struct {
	instance int
	from, to time.Time
}

// knownDefect reports whether a lost or reordered LINE webhook message
// matches the reported defect: it was acknowledged while Redis was down
// (or just before, or while the bridge's Redis client was still
// retrying), or by an instance within seconds before that instance was
// SIGKILLed. Called with c.mu held.
func (s *soak) knownDefect(c *chatState, is issue) bool {
	if !s.cfg.KnownDefects || c.kind != "line" {
		return false
	}
	s.faults.Lock()
	defer s.faults.Unlock()
	in := func(n int) bool {
		at, ok := c.ackAt[n]
		if !ok {
			return false
		}
		for _, w := range s.faults.windows {
			if w.instance < 0 && !at.Before(w.from.Add(-500*time.Millisecond)) && !at.After(w.to.Add(2*time.Second)) {
				return true
			}
			if w.instance >= 0 && c.ackBy[n] == w.instance && !at.Before(w.from.Add(-3*time.Second)) && !at.After(w.from) {
				return true
			}
		}
		return false
	}
	switch is.kind {
	case "lost":
		return in(is.n)
	case "order":
		return in(is.n) || in(is.other)
	}
	return false
}

// instance is one bridge process slot: a fixed port, restarted in place.
type instance struct {
	idx   int
	port  int
	url   string
	alive atomic.Bool
	mu    sync.Mutex
	child *harness.Child
	runs  int
}

// chatState is one customer and what both sides sent and received.
type chatState struct {
	idx  int
	kind string // "api" (/init, /send, /messages) or "line" (webhooks)
	user string
	name string

	gate sync.RWMutex // parties hold R while sending; the terminator takes W
	stop atomic.Bool

	mu          sync.Mutex
	simID       string
	acked       []int             // customer messages acknowledged by the bridge, in send order
	uncertain   map[int]bool      // customer messages whose outcome the client cannot know
	notSent     int               // customer messages given up (bridge unreachable)
	rejected    int               // customer messages answered "bad" (chat closed)
	agentSent   []int             // agent texts accepted by the simulator, in order
	agentFailed int               // agent texts the simulator refused
	pulled      []int             // agent texts answered by /messages (api chats)
	pullEnds    int               // "end" answers of /messages
	handovers   int               // handover attempts (line chats)
	opens       int               // /init attempts (api chats)
	terminated  bool              // ended on purpose by an injected 409
	webhookTry  int               // webhook deliveries retried (same event id)
	via         map[int]string    // customer message → where and when it was acknowledged
	ackAt       map[int]time.Time // customer message → when it was acknowledged
	ackBy       map[int]int       // customer message → instance that acknowledged it
}

type soak struct {
	cfg   Config
	rnd   *rand.Rand
	rmu   sync.Mutex
	dir   string
	bin   string
	redis *harness.Redis
	sim   *lasim.Sim
	tap   *harness.SimTap
	ls    *linesim.Server
	insts []*instance
	chats []*chatState
	hc    *http.Client
	start time.Time

	faults struct {
		sync.Mutex
		desk     map[string]int
		line     map[string]int
		kills    int
		restarts int
		redis    int
		redisGap []time.Duration
		killGap  []time.Duration
		windows  []window
	}
	logMu sync.Mutex
}

func (s *soak) logf(format string, args ...any) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	fmt.Fprintf(s.cfg.Log, "[%6.1fs] %s\n", time.Since(s.start).Seconds(), fmt.Sprintf(format, args...))
}

func (s *soak) intn(n int) int {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	return s.rnd.IntN(n)
}

// jitter returns a duration around d (0.3d … 1.7d).
func (s *soak) jitter(d time.Duration) time.Duration {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	return time.Duration(float64(d) * (0.3 + 1.4*s.rnd.Float64()))
}

// Run runs the soak and returns its result. Every child process, server and
// temporary file is gone when it returns (unless cfg.KeepDir).
func Run(ctx context.Context, cfg Config) (res *Result, err error) {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.Instances < 1 {
		cfg.Instances = 1
	}
	if cfg.Drain <= 0 {
		cfg.Drain = 90 * time.Second
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	s := &soak{cfg: cfg, rnd: rand.New(rand.NewPCG(uint64(seed), 7)), start: time.Now()}
	s.faults.desk, s.faults.line = map[string]int{}, map[string]int{}
	s.hc = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second}, Timeout: 30 * time.Second}
	defer s.hc.CloseIdleConnections()

	if s.dir, err = os.MkdirTemp("", "bridge-soak-"); err != nil {
		return nil, err
	}
	defer func() {
		if cfg.KeepDir {
			s.logf("work directory kept: %s", s.dir)
			return
		}
		_ = os.RemoveAll(s.dir)
	}()
	s.logf("soak: %d chats, %s, %d instances, %d kills, %d Redis restarts, %d chats ended by a 409, seed %d, dir %s",
		cfg.Chats, cfg.Duration, cfg.Instances, cfg.Kills, cfg.RedisRestarts, cfg.Terminate, seed, s.dir)

	// The bridge, built once.
	s.bin = cfg.BridgeBin
	if s.bin == "" {
		s.bin = filepath.Join(s.dir, "bridge")
		s.logf("building ./cmd/bridge (race detector: %v)", cfg.RaceBridge)
		if err := harness.BuildBridge(ctx, s.bin, cfg.RaceBridge); err != nil {
			return nil, err
		}
	}
	// Redis with persistence.
	if s.redis, err = harness.SpawnRedis(ctx, filepath.Join(s.dir, "redis"), true); err != nil {
		return nil, err
	}
	defer s.redis.Stop()
	// The Live Agent simulator and the fake LINE platform, on loopback.
	s.sim = lasim.New(lasim.Options{
		HoldTime: cfg.Hold, ClientPollTimeout: 40 * time.Second, AgentName: agentName, MaxEndedChats: 1 << 20,
	})
	defer s.sim.Close()
	s.tap = harness.NewSimTap(s.sim)
	simSrv := httptest.NewServer(s.tap)
	defer simSrv.Close()
	defer simSrv.CloseClientConnections()
	s.ls = linesim.New(channelToken)
	lsSrv := httptest.NewServer(s.ls)
	defer lsSrv.Close()
	defer s.ls.Close()

	// The instances.
	for i := range cfg.Instances {
		port, err := harness.FreePort()
		if err != nil {
			return nil, err
		}
		s.insts = append(s.insts, &instance{idx: i, port: port, url: "http://127.0.0.1:" + strconv.Itoa(port)})
	}
	defer func() {
		for _, in := range s.insts {
			in.mu.Lock()
			if in.child != nil {
				in.child.Kill()
			}
			in.mu.Unlock()
		}
	}()
	env := []string{
		"REDIS_URL=" + s.redis.URL(), "REDIS_KEY_PREFIX=" + keyPrefix,
		"LIVEAGENT_HOST=" + simSrv.URL, "LIVEAGENT_ORGANIZATION_ID=00D000000000001", "LIVEAGENT_DEPLOYMENT_ID=572000000000001",
		"LIVEAGENT_BUTTON_ID=573000000000001", "LINE_CHANNEL_SECRET=" + channelSecret, "LINE_CHANNEL_TOKEN=" + channelToken,
		"LINE_API_BASE_URL=" + lsSrv.URL, "LINE_DATA_API_BASE_URL=" + lsSrv.URL,
		"LEASE_TTL=3s", "LEASE_SCAN_INTERVAL=500ms", "RATE_LIMIT_RPS=0", "MESSAGES_WAIT=3s", "INIT_WAIT=5s",
		"SHUTDOWN_TIMEOUT=10s", "LOG_LEVEL=debug", "LOG_FORMAT=json",
	}
	for _, in := range s.insts {
		if err := s.startInstance(ctx, in, env); err != nil {
			return nil, err
		}
	}
	s.logf("%d instances up: %s", len(s.insts), s.urls())

	// The chats: even ones through the API, odd ones through LINE.
	for i := range cfg.Chats {
		c := &chatState{idx: i, kind: "api", user: fmt.Sprintf("U%032x", uint64(seed)^uint64(i)*0x9e3779b97f4a7c15), name: fmt.Sprintf("soak-%d", i), uncertain: map[int]bool{}, via: map[int]string{}, ackAt: map[int]time.Time{}, ackBy: map[int]int{}}
		if i%2 == 1 {
			c.kind = "line"
			s.ls.SetProfile(c.user, c.name, "ja")
		}
		s.chats = append(s.chats, c)
	}

	trafficEnd := time.Now().Add(cfg.Duration)
	tctx, stopTraffic := context.WithDeadline(ctx, trafficEnd)
	defer stopTraffic()
	var parties, pullers, background sync.WaitGroup
	pullCtx, stopPull := context.WithCancel(ctx)
	defer stopPull()
	for _, c := range s.chats {
		parties.Add(1)
		go func() {
			defer parties.Done()
			s.customer(tctx, c, &parties)
		}()
		if c.kind == "api" {
			pullers.Add(1)
			go func() {
				defer pullers.Done()
				s.puller(pullCtx, c)
			}()
		}
	}
	background.Add(3)
	go func() { defer background.Done(); s.faultPlan(tctx, env) }()
	go func() { defer background.Done(); s.deskFaults(tctx) }()
	go func() { defer background.Done(); s.lineFaults(tctx) }()
	go s.progress(tctx)

	parties.Wait()
	background.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	s.logf("traffic over; every instance running again: %v", s.allAlive())
	s.sim.ClearFaults()

	// Drain: wait until everything acknowledged has arrived.
	deadline := time.Now().Add(cfg.Drain)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if s.delivered() {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	stopPull()
	pullers.Wait()
	s.logf("drained (complete: %v)", s.delivered())

	// Unexpected ends are counted before the customers close their chats.
	res = s.result()
	res.Seed = seed
	// Ends are ends: every customer ends their chat; each must end at the
	// desk and be confirmed on LINE exactly once.
	s.closeAll(ctx)
	s.checkEnds(ctx, res)
	res.Batches = s.tap.Stats()
	res.MaxPollGap = s.tap.MaxPollGap()
	s.scanLogs(res)
	res.Elapsed = time.Since(s.start)
	return res, nil
}

func (s *soak) urls() string {
	var u []string
	for _, in := range s.insts {
		u = append(u, in.url)
	}
	return strings.Join(u, " ")
}

func (s *soak) startInstance(ctx context.Context, in *instance, env []string) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.runs++
	name := fmt.Sprintf("bridge%d", in.idx)
	c, err := harness.StartChild(name, s.bin, []string{"--addr", "127.0.0.1:" + strconv.Itoa(in.port)}, env, filepath.Join(s.dir, name+".log"))
	if err != nil {
		return err
	}
	in.child = c
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := harness.WaitHTTP(wctx, in.url+"/readyz", c); err != nil {
		return err
	}
	in.alive.Store(true)
	return nil
}

func (s *soak) allAlive() bool {
	for _, in := range s.insts {
		if !in.alive.Load() {
			return false
		}
	}
	return true
}

// pick returns a random live instance, or any if none is marked live.
func (s *soak) pick() *instance {
	var live []*instance
	for _, in := range s.insts {
		if in.alive.Load() {
			live = append(live, in)
		}
	}
	if len(live) == 0 {
		return s.insts[s.intn(len(s.insts))]
	}
	return live[s.intn(len(live))]
}

// outcome of one request.
type outcome int

const (
	sent      outcome = iota // the bridge acknowledged it
	notSent                  // definitely not applied (refused, or answered "retry later")
	uncertain                // the request may or may not have been applied
	rejected                 // the bridge refused it (4xx)
)

func (s *soak) post(ctx context.Context, url, body string) (outcome, int, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return notSent, 0, ""
	}
	req.Header.Set("Content-Type", "application/json")
	return s.do(req)
}

func (s *soak) do(req *http.Request) (outcome, int, string) {
	res, err := s.hc.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return notSent, 0, ""
		}
		return uncertain, 0, err.Error()
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return uncertain, res.StatusCode, err.Error()
	}
	switch {
	case res.StatusCode == http.StatusOK:
		return sent, res.StatusCode, string(b)
	case res.StatusCode >= 500:
		return notSent, res.StatusCode, string(b)
	default:
		return rejected, res.StatusCode, string(b)
	}
}

// customer opens the chat, starts its agent, then sends numbered messages
// until ctx ends.
func (s *soak) customer(ctx context.Context, c *chatState, parties *sync.WaitGroup) {
	if !s.open(ctx, c) {
		return
	}
	parties.Add(1)
	go func() {
		defer parties.Done()
		s.agent(ctx, c)
	}()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.jitter(s.cfg.Interval)):
		}
		c.gate.RLock()
		if c.stop.Load() || ctx.Err() != nil {
			c.gate.RUnlock()
			return
		}
		text := fmt.Sprintf("c%d#%d", c.idx, n)
		if c.kind == "api" {
			s.sendAPI(ctx, c, n, text)
		} else {
			s.sendLINE(ctx, c, n, text)
		}
		c.gate.RUnlock()
	}
}

// open starts the chat and waits until the simulator has it.
func (s *soak) open(ctx context.Context, c *chatState) bool {
	for ctx.Err() == nil {
		if c.kind == "api" {
			c.mu.Lock()
			c.opens++
			c.mu.Unlock()
			o, _, body := s.post(ctx, s.pick().url+"/init", fmt.Sprintf(`{"line_id":%q,"display_name":%q}`, c.user, c.name))
			if o != sent || !strings.Contains(body, `"ok"`) {
				sleep(ctx, 200*time.Millisecond)
				continue
			}
		} else {
			c.mu.Lock()
			c.handovers++
			c.mu.Unlock()
			if !s.webhook(ctx, c, linesim.Text(c.user, "オペレーター")) {
				continue
			}
		}
		wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		v, err := s.sim.WaitFor(wctx, func(v lasim.ChatView) bool { return v.VisitorName == c.name && !v.Ended() })
		cancel()
		if err == nil {
			c.mu.Lock()
			c.simID = v.ID
			c.mu.Unlock()
			return true
		}
	}
	return false
}

// webhook delivers events as LINE does: until answered 200, redelivering
// the same events (same webhookEventId) on failure.
func (s *soak) webhook(ctx context.Context, c *chatState, ev linesim.Event) bool {
	ok, _ := s.webhookVia(ctx, c, ev)
	return ok
}

// webhookVia is webhook, also returning the instance that answered 200.
func (s *soak) webhookVia(ctx context.Context, c *chatState, ev linesim.Event) (bool, int) {
	for try := 0; ctx.Err() == nil; try++ {
		if try > 0 {
			ev = ev.Redelivered()
			c.mu.Lock()
			c.webhookTry++
			c.mu.Unlock()
			sleep(ctx, 100*time.Millisecond)
		}
		in := s.pick()
		req := s.ls.SignedRequest(channelSecret, in.url+"/line/webhook", ev)
		req = req.WithContext(ctx)
		if o, _, _ := s.do(req); o == sent {
			return true, in.idx
		}
	}
	return false, -1
}

func (s *soak) sendAPI(ctx context.Context, c *chatState, n int, text string) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		in := s.pick()
		o, _, body := s.post(context.WithoutCancel(ctx), in.url+"/send", fmt.Sprintf(`{"line_id":%q,"message":%q}`, c.user, text))
		c.mu.Lock()
		switch {
		case o == sent && strings.Contains(body, `"send"`):
			c.acked = append(c.acked, n)
			c.via[n] = fmt.Sprintf("/send to bridge%d at %.1fs", in.idx, time.Since(s.start).Seconds())
			c.ackAt[n], c.ackBy[n] = time.Now(), in.idx
			c.mu.Unlock()
			return
		case o == uncertain:
			c.uncertain[n] = true
			c.mu.Unlock()
			return
		case o == rejected:
			c.rejected++
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
	}
	c.mu.Lock()
	c.notSent++
	c.mu.Unlock()
}

func (s *soak) sendLINE(ctx context.Context, c *chatState, n int, text string) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	ok, in := s.webhookVia(wctx, c, linesim.Text(c.user, text))
	c.mu.Lock()
	defer c.mu.Unlock()
	if ok {
		c.acked = append(c.acked, n)
		c.via[n] = fmt.Sprintf("webhook to bridge%d at %.1fs", in, time.Since(s.start).Seconds())
		c.ackAt[n], c.ackBy[n] = time.Now(), in
	} else {
		c.notSent++
	}
}

// agent accepts the chat after a while, then sends bursts of 1–3 numbered
// texts until ctx ends.
func (s *soak) agent(ctx context.Context, c *chatState) {
	c.mu.Lock()
	id := c.simID
	c.mu.Unlock()
	sleep(ctx, time.Duration(s.intn(2000))*time.Millisecond)
	for ctx.Err() == nil {
		err := s.sim.Accept(id)
		if err == nil || !errors.Is(err, lasim.ErrState) {
			break
		}
		if v, verr := s.sim.Chat(id); verr != nil || v.State != lasim.StateCreated {
			break
		}
		sleep(ctx, 100*time.Millisecond)
	}
	n := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.jitter(s.cfg.Interval)):
		}
		c.gate.RLock()
		if c.stop.Load() || ctx.Err() != nil {
			c.gate.RUnlock()
			return
		}
		burst := 1 + s.intn(3)
		for b := 0; b < burst; b++ {
			n++
			err := s.sim.AgentSend(id, fmt.Sprintf("a%d#%d", c.idx, n))
			c.mu.Lock()
			if err == nil {
				c.agentSent = append(c.agentSent, n)
			} else {
				c.agentFailed++
			}
			c.mu.Unlock()
			if b < burst-1 {
				time.Sleep(time.Duration(s.intn(30)) * time.Millisecond)
			}
		}
		c.gate.RUnlock()
	}
}

// puller plays the seed's LINE bot backend: /messages in a loop.
func (s *soak) puller(ctx context.Context, c *chatState) {
	prefix := fmt.Sprintf("a%d#", c.idx)
	for ctx.Err() == nil {
		o, _, body := s.post(ctx, s.pick().url+"/messages", fmt.Sprintf(`{"line_id":%q}`, c.user))
		if o != sent {
			sleep(ctx, 100*time.Millisecond)
			continue
		}
		typ, msg := seedReply(body)
		switch {
		case typ == "message" && strings.HasPrefix(msg, prefix):
			n, _ := strconv.Atoi(msg[len(prefix):])
			c.mu.Lock()
			c.pulled = append(c.pulled, n)
			c.mu.Unlock()
		case typ == "end":
			c.mu.Lock()
			c.pullEnds++
			c.mu.Unlock()
		case typ == "bad": // no chat yet
			sleep(ctx, 100*time.Millisecond)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func (s *soak) progress(ctx context.Context) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var acked, agent, open int
		for _, c := range s.chats {
			c.mu.Lock()
			acked += len(c.acked)
			agent += len(c.agentSent)
			if c.simID != "" {
				open++
			}
			c.mu.Unlock()
		}
		s.logf("progress: %d chats started, %d customer messages acknowledged, %d agent texts sent, %d pushes at LINE",
			open, acked, agent, len(s.ls.Snapshot().Pushes))
	}
}
