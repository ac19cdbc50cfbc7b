package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent/lasim"
	"github.com/line-sf-bridge/bridge/pkg/line/linesim"
	"github.com/line-sf-bridge/bridge/scripts/bench/harness"
)

const agentName = "Agent Bench"

// world is everything around the bridge: the simulator, the fake LINE
// platform, Redis, and what the taps recorded.
type world struct {
	cfg      benchConfig
	log      *logger
	sim      *lasim.Sim
	simSrv   *httptest.Server
	simTap   *harness.SimTap
	ls       *linesim.Server
	lsSrv    *httptest.Server
	redisURL string
	redis    *harness.Redis // when spawned
	rdb      *redis.Client
	bin      string

	polls atomic.Int64 // Messages requests seen by the simulator

	mu        sync.Mutex
	sentAt    map[string]time.Time // agent text → AgentSend called
	simAt     map[string]time.Time // agent text → left the simulator
	pushAt    map[string]time.Time // agent text → arrived at LINE
	joined    map[string]bool      // user → agent-joined notice pushed
	sendAt    map[string]time.Time // customer text → /send called
	visitorAt map[string]time.Time // customer text → accepted by the simulator
	waiters   map[string]chan struct{}
}

func newWorld(cfg benchConfig, log *logger) *world {
	w := &world{
		cfg: cfg, log: log,
		sentAt: map[string]time.Time{}, simAt: map[string]time.Time{}, pushAt: map[string]time.Time{},
		joined: map[string]bool{}, sendAt: map[string]time.Time{}, visitorAt: map[string]time.Time{},
		waiters: map[string]chan struct{}{},
	}
	w.sim = lasim.New(lasim.Options{
		HoldTime: cfg.hold, ClientPollTimeout: cfg.pollTimeout, AgentName: agentName, MaxEndedChats: 1 << 20,
	})
	w.simTap = harness.NewSimTap(w.sim)
	w.simTap.OnAgentText = func(text string, at time.Time) {
		w.mu.Lock()
		if _, ok := w.simAt[text]; !ok {
			w.simAt[text] = at
		}
		w.mu.Unlock()
	}
	w.simTap.OnVisitorText = func(text string, at time.Time) {
		w.mu.Lock()
		if _, ok := w.visitorAt[text]; !ok {
			w.visitorAt[text] = at
		}
		w.signalLocked(text)
		w.mu.Unlock()
	}
	count := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/System/Messages") {
			w.polls.Add(1)
		}
		w.simTap.ServeHTTP(rw, r)
	})
	w.simSrv = httptest.NewServer(count)
	w.ls = linesim.New(lineToken)
	lt := harness.NewLineTap(w.ls)
	lt.OnPush = func(to string, texts []string, at time.Time) {
		w.mu.Lock()
		for _, t := range texts {
			if strings.Contains(t, agentName) {
				w.joined[to] = true
			}
			if _, ok := w.pushAt[t]; !ok {
				w.pushAt[t] = at
			}
			w.signalLocked(t)
		}
		w.mu.Unlock()
	}
	w.lsSrv = httptest.NewServer(lt)
	return w
}

// signalLocked wakes whoever waits for text.
func (w *world) signalLocked(text string) {
	if ch, ok := w.waiters[text]; ok {
		close(ch)
		delete(w.waiters, text)
	}
}

// waitText waits until text has reached LINE (push) or the agent
// (visitor), as seen by cond.
func (w *world) waitText(ctx context.Context, text string, seen func() bool, timeout time.Duration) bool {
	w.mu.Lock()
	if seen() {
		w.mu.Unlock()
		return true
	}
	ch := make(chan struct{})
	w.waiters[text] = ch
	w.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.waiters, text)
	return seen()
}

func (w *world) close() {
	_ = w.sim.Close()
	w.simSrv.CloseClientConnections()
	w.simSrv.Close()
	w.ls.Close()
	w.lsSrv.Close()
}

// chat is one customer of the benchmark.
type chat struct {
	user  string
	name  string
	simID string
}

// openChats calls /init for chats[from:to] with the configured concurrency.
func (w *world) openChats(ctx context.Context, bp *bridgeProc, chats []chat) (failed int, err error) {
	var next atomic.Int64
	var fails atomic.Int64
	var wg sync.WaitGroup
	for range min(w.cfg.openConc, len(chats)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(chats) {
					return
				}
				ok := false
				for attempt := 0; attempt < 3 && !ok && ctx.Err() == nil; attempt++ {
					body := fmt.Sprintf(`{"line_id":%q,"display_name":%q}`, chats[i].user, chats[i].name)
					code, rb, err := post(ctx, bp.hc, bp.url+"/init", body)
					ok = err == nil && code == 200 && strings.Contains(rb, `"ok"`)
				}
				if !ok {
					fails.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return int(fails.Load()), ctx.Err()
}

// mapAndAccept finds the simulator chat of each customer and accepts the
// queued ones.
func (w *world) mapAndAccept(chats []chat) (accepted int, missing int) {
	byName := map[string]string{}
	for _, v := range w.sim.Chats() {
		if v.State == lasim.StateQueued || v.State == lasim.StateEstablished {
			byName[v.VisitorName] = v.ID
		}
	}
	for i := range chats {
		id, ok := byName[chats[i].name]
		if !ok {
			missing++
			continue
		}
		chats[i].simID = id
		if err := w.sim.Accept(id); err == nil {
			accepted++
		}
	}
	return accepted, missing
}

// waitJoined waits until every chat's agent-joined notice reached LINE.
func (w *world) waitJoined(ctx context.Context, chats []chat, timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for {
		w.mu.Lock()
		n := 0
		for _, c := range chats {
			if w.joined[c.user] {
				n++
			}
		}
		w.mu.Unlock()
		if n == len(chats) || time.Now().After(deadline) || ctx.Err() != nil {
			return n
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// simHealth counts the simulator's chats of the given names by state.
func (w *world) simHealth(names map[string]bool) (established, ended, other int, polls int) {
	for _, v := range w.sim.Chats() {
		if !names[v.VisitorName] {
			continue
		}
		switch v.State {
		case lasim.StateEstablished:
			established++
		case lasim.StateEnded, lasim.StateExpired:
			ended++
		default:
			other++
		}
		polls += v.Counters.Polls
	}
	return
}

var errStatus = errors.New("unexpected status")

func post(ctx context.Context, hc *http.Client, url, body string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, string(b), err
}

// seedReply decodes a {"type": …, "message": …} answer.
func seedReply(b string) (typ, msg string) {
	var r struct {
		Type    *string `json:"type"`
		Message *string `json:"message"`
	}
	if json.NewDecoder(bytes.NewReader([]byte(b))).Decode(&r) != nil {
		return "", ""
	}
	if r.Type != nil {
		typ = *r.Type
	}
	if r.Message != nil {
		msg = *r.Message
	}
	return typ, msg
}
