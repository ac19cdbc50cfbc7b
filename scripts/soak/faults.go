package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent/lasim"
	"github.com/line-sf-bridge/bridge/pkg/line/linesim"
)

// faultPlan kills instances, restarts Redis and ends chats on purpose at
// evenly spread moments of the traffic.
func (s *soak) faultPlan(ctx context.Context, env []string) {
	type event struct {
		at   time.Duration
		kind string
	}
	d := s.cfg.Duration
	var kinds []string
	k, r := s.cfg.Kills, s.cfg.RedisRestarts
	for i, j := 0, 0; i < k || j < r; {
		// Interleave so that kills and Redis restarts alternate as evenly as
		// their numbers allow, starting with a kill.
		if j >= r || (i < k && float64(i)/float64(k) <= float64(j)/float64(max(r, 1))) {
			kinds = append(kinds, "kill")
			i++
		} else {
			kinds = append(kinds, "redis")
			j++
		}
	}
	var evs []event
	for i, kind := range kinds {
		evs = append(evs, event{at: time.Duration(float64(d) * (0.15 + 0.65*(float64(i)+0.5)/float64(len(kinds)))), kind: kind})
	}
	if s.cfg.Terminate > 0 {
		evs = append(evs, event{at: time.Duration(float64(d) * 0.5), kind: "terminate"})
	}
	slices.SortStableFunc(evs, func(a, b event) int { return int(a.at - b.at) })
	for _, ev := range evs {
		sleep(ctx, time.Until(s.start.Add(ev.at)))
		if ctx.Err() != nil {
			return
		}
		switch ev.kind {
		case "kill":
			s.killOne(ctx, env)
		case "redis":
			s.restartRedis(ctx)
		case "terminate":
			s.terminate(ctx)
		}
	}
}

// owned asks an instance how many chats it drives.
func (s *soak) owned(in *instance) int {
	res, err := s.hc.Get(in.url + "/metrics")
	if err != nil {
		return -1
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "bridge_chats_owned "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return int(f)
		}
	}
	return -1
}

// killOne SIGKILLs the live instance that drives the most chats, and starts
// it again a moment later.
func (s *soak) killOne(ctx context.Context, env []string) {
	var victim *instance
	best := -2
	for _, in := range s.insts {
		if !in.alive.Load() {
			continue
		}
		if n := s.owned(in); n > best {
			victim, best = in, n
		}
	}
	if victim == nil {
		return
	}
	victim.alive.Store(false)
	victim.mu.Lock()
	victim.child.Kill()
	victim.mu.Unlock()
	killed := time.Now()
	s.faults.Lock()
	s.faults.kills++
	s.faults.windows = append(s.faults.windows, window{instance: victim.idx, from: killed, to: killed})
	s.faults.Unlock()
	s.logf("fault: SIGKILL bridge%d (it drove %d chats)", victim.idx, best)
	sleep(ctx, 1500*time.Millisecond+s.jitter(time.Second))
	if err := s.startInstance(context.WithoutCancel(ctx), victim, env); err != nil {
		s.logf("restart of bridge%d failed: %v", victim.idx, err)
		return
	}
	s.faults.Lock()
	s.faults.restarts++
	s.faults.killGap = append(s.faults.killGap, time.Since(killed))
	s.faults.Unlock()
	s.logf("fault: bridge%d running again after %s", victim.idx, time.Since(killed).Round(time.Millisecond))
}

// restartRedis stops Redis with SIGTERM (it writes its append-only file),
// waits a second and starts it again on the same data.
func (s *soak) restartRedis(ctx context.Context) {
	s.logf("fault: Redis SIGTERM")
	t := time.Now()
	s.redis.Stop()
	sleep(ctx, time.Second)
	if err := s.redis.Start(context.WithoutCancel(ctx)); err != nil {
		s.logf("Redis restart failed: %v", err)
		return
	}
	s.faults.Lock()
	s.faults.redis++
	s.faults.redisGap = append(s.faults.redisGap, time.Since(t))
	s.faults.windows = append(s.faults.windows, window{instance: -1, from: t, to: time.Now()})
	s.faults.Unlock()
	s.logf("fault: Redis back after %s", time.Since(t).Round(time.Millisecond))
}

// terminate ends chats with an injected 409 on their next poll, which the
// bridge must treat as Salesforce killing the chat. Their traffic stops
// first, and what they sent is delivered before the fault.
func (s *soak) terminate(ctx context.Context) {
	picked := 0
	for _, i := range s.perm(len(s.chats)) {
		if picked >= s.cfg.Terminate {
			break
		}
		c := s.chats[i]
		c.mu.Lock()
		id := c.simID
		c.mu.Unlock()
		if id == "" {
			continue
		}
		if v, err := s.sim.Chat(id); err != nil || v.State != lasim.StateEstablished {
			continue
		}
		c.stop.Store(true)
		c.gate.Lock() // waits for the message in flight
		c.gate.Unlock()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) && ctx.Err() == nil && !s.chatDelivered(c, false) {
			sleep(ctx, 200*time.Millisecond)
		}
		if !s.chatDelivered(c, false) {
			s.logf("chat %d: not everything arrived within 20 s; ending it anyway (the loss will be reported)", c.idx)
		}
		if err := s.sim.InjectFault(lasim.Fault{Kind: "messages", Status: http.StatusConflict, ChatID: id, Count: 1}); err != nil {
			s.logf("inject 409: %v", err)
			continue
		}
		c.mu.Lock()
		c.terminated = true
		c.mu.Unlock()
		picked++
		s.faults.Lock()
		s.faults.desk["messages 409 (ends the chat)"]++
		s.faults.Unlock()
		s.logf("fault: Live Agent 409 on the next poll of chat %d (designed to end it)", c.idx)
	}
}

func (s *soak) perm(n int) []int {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	return s.rnd.Perm(n)
}

// deskFaults injects Live Agent faults the bridge must survive.
func (s *soak) deskFaults(ctx context.Context) {
	if !s.cfg.DeskFaults {
		return
	}
	kinds := []lasim.Fault{
		{Kind: "messages", Status: 503}, {Kind: "messages", Status: 500}, {Kind: "messages", Status: 502},
		{Kind: "messages", Status: 504}, {Kind: "messages", Status: 429, Count: 2},
		{Kind: "chatMessage", Status: 500}, {Kind: "chatMessage", Status: 503}, {Kind: "chatMessage", Status: 502},
	}
	sleep(ctx, s.cfg.Duration/10)
	for ctx.Err() == nil {
		sleep(ctx, s.jitter(s.cfg.Interval))
		c := s.chats[s.intn(len(s.chats))]
		c.mu.Lock()
		id, term := c.simID, c.terminated
		c.mu.Unlock()
		if id == "" || term || c.stop.Load() {
			continue
		}
		f := kinds[s.intn(len(kinds))]
		f.ChatID = id
		if err := s.sim.InjectFault(f); err != nil {
			continue
		}
		name := fmt.Sprintf("%s %d", f.Kind, f.Status)
		s.faults.Lock()
		s.faults.desk[name]++
		s.faults.Unlock()
		if s.cfg.Verbose {
			s.logf("fault: Live Agent %s on chat %d", name, c.idx)
		}
	}
}

// lineFaults makes the fake LINE platform fail pushes and read marks.
func (s *soak) lineFaults(ctx context.Context) {
	if !s.cfg.LineFaults {
		return
	}
	type lf struct {
		name string
		ep   linesim.Endpoint
		n    int
		f    linesim.Failure
	}
	kinds := []lf{
		{"push 429", linesim.Push, 2, linesim.Failure{Status: 429}},
		{"push 500", linesim.Push, 1, linesim.Failure{Status: 500}},
		{"push 503", linesim.Push, 2, linesim.Failure{Status: 503}},
		{"push accepted, answer lost (500)", linesim.Push, 1, linesim.Failure{AfterAccept: true, Status: 500}},
		{"push hangs 1.5 s then 503", linesim.Push, 1, linesim.Failure{Hang: true, HangFor: 1500 * time.Millisecond, Status: 503}},
		{"markAsRead 500", linesim.MarkAsRead, 1, linesim.Failure{Status: 500}},
	}
	sleep(ctx, s.cfg.Duration/10)
	for ctx.Err() == nil {
		sleep(ctx, s.jitter(2*s.cfg.Interval))
		k := kinds[s.intn(len(kinds))]
		s.ls.Fail(k.ep, k.n, k.f)
		s.faults.Lock()
		s.faults.line[k.name] += k.n
		s.faults.Unlock()
		if s.cfg.Verbose {
			s.logf("fault: LINE %s ×%d", k.name, k.n)
		}
	}
}
