package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/line-sf-bridge/bridge/scripts/bench/harness"
)

type levelResult struct {
	level                     int
	openFailed                int
	openTime                  time.Duration
	joined                    int
	established, ended, other int
	owned                     float64
	steady                    measurement
	goroutines, heapInuse     float64
	stackInuse, nextGC        float64
	maxPollGap                time.Duration
	lat                       latencyResult
	relay                     relayResult
	send                      sendResult
}

type report struct {
	cfg                      benchConfig
	machine                  harness.Machine
	redisVersion             string
	prefix                   string
	started                  time.Time
	elapsed                  time.Duration
	loadBefore, loadAfter    string
	baseline                 harness.ProcSample
	baseHeap, baseGoroutines float64
	levels                   []levelResult
	shutdown                 time.Duration
	relayedTotal             float64
	rt                       *rtResult
	batches                  harness.BatchStats
	profiles                 []profileOut
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func (r *report) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	c := r.cfg
	p("## Bridge benchmark — %s\n\n", r.started.UTC().Format("2006-01-02 15:04 UTC"))
	p("- machine: %s; Redis server %s\n", r.machine, r.redisVersion)
	p("- load average before %s, after %s; run took %s\n", r.loadBefore, r.loadAfter, r.elapsed.Round(time.Second))
	p("- bridge: %s; simulator hold %s, clientPollTimeout %s; window %s per level; Redis %s (prefix %s)\n",
		map[string]string{"binary": "cmd/bridge binary", "self": "self-wired (same parts as cmd/bridge, plus pprof)"}[c.bridgeMode],
		c.hold, c.pollTimeout, c.window, redact(c.redis), r.prefix)
	p("- the simulator, fake LINE and load generator run in the bench process, Redis in its own; all share the %d cores\n\n", r.machine.CPUs)

	p("### Open chats\n\n")
	p("| chats | /init failures | opened in | established at the desk | ended | bridge CPU (%% of 1 core) | bridge RSS | RSS per chat | goroutines | polls/s | sim+LINE+load CPU | Redis CPU | other processes' CPU | longest unpolled gap (steady window) |\n")
	p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, l := range r.levels {
		rssPer := float64(l.steady.bridgeRSS-r.baseline.RSS) / float64(l.level)
		other := l.steady.machineBusy*float64(r.machine.CPUs) - l.steady.bridgeCPU - l.steady.benchCPU - l.steady.redisCPU
		p("| %d | %d | %s | %d | %d | %.1f%% | %s | %s | %.0f | %.0f | %.1f%% | %.1f%% | %.0f%% | %s |\n",
			l.level, l.openFailed, l.openTime.Round(time.Millisecond), l.established, l.ended, l.steady.bridgeCPU,
			harness.MiB(l.steady.bridgeRSS), harness.KiB(rssPer), l.goroutines, l.steady.pollsPerSec,
			l.steady.benchCPU, l.steady.redisCPU, max(other, 0), l.maxPollGap.Round(time.Millisecond))
	}
	p("\nMemory per open chat, from the bridge's Go runtime metrics at the end of each window: ")
	for i, l := range r.levels {
		if i > 0 {
			p("; ")
		}
		n := float64(l.level)
		p("%d chats: heap in use %s (live at the last GC ≈ %s), goroutine stacks %s, %.1f goroutines",
			l.level, harness.KiB((l.heapInuse-r.baseHeap)/n), harness.KiB((l.nextGC/2)/n), harness.KiB(l.stackInuse/n), l.goroutines/n)
	}
	p(".\n")
	p("Baseline before any chat: RSS %s, Go heap %s, %.0f goroutines. Shutdown (SIGTERM → exit) with %d chats: %s.\n\n",
		harness.MiB(r.baseline.RSS), harness.MiB(int64(r.baseHeap)), r.baseGoroutines, last(r.levels).level, r.shutdown.Round(time.Millisecond))

	p("### Relay latency (agent's send → LINE push arrival / → /messages answer)\n\n")
	p("| chats | samples | → LINE p50 | → LINE p99 | → LINE beyond simulator p50 | p99 | → /messages p50 | p99 | → /messages beyond simulator p50 | p99 | simulator's own p50 | p99 | lost |\n")
	p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, l := range r.levels {
		x := l.lat
		p("| %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d/%d |\n", l.level, x.push.N,
			harness.Ms(x.push.P50), harness.Ms(x.push.P99), harness.Ms(x.pushNet.P50), harness.Ms(x.pushNet.P99),
			harness.Ms(x.pull.P50), harness.Ms(x.pull.P99), harness.Ms(x.pullNet.P50), harness.Ms(x.pullNet.P99),
			harness.Ms(x.simOwn.P50), harness.Ms(x.simOwn.P99), x.lostPush, x.lostPull)
	}
	p("\n")
	for _, l := range r.levels {
		if l.relay.sent == 0 && l.send.ok == 0 {
			continue
		}
		p("### Throughput at %d open chats\n\n", l.level)
		p("- agent → LINE relay at %d/s offered: %s\n", c.relayRate, l.relay)
		p("- /send: %s\n\n", l.send)
	}
	if r.rt != nil {
		p("### Redis traffic per message (bridge through a counting proxy, %d chats, idle baseline removed)\n\n", r.rt.chats)
		p("Idle: %.1f round trips/s and %.1f commands/s for %d chats (lease renewals, orphan scans, polls).\n\n", r.rt.idleRTPerSec, r.rt.idleCmdPerSec, r.rt.chats)
		p("| scenario | messages | round trips per message | commands per message | commands |\n|---|---:|---:|---:|---|\n")
		for _, s := range r.rt.scenarios {
			names := make([]string, 0, len(s.byName))
			for k := range s.byName {
				names = append(names, k)
			}
			slices.SortFunc(names, func(a, b string) int {
				if s.byName[a] != s.byName[b] {
					if s.byName[a] > s.byName[b] {
						return -1
					}
					return 1
				}
				return strings.Compare(a, b)
			})
			var parts []string
			for _, k := range names {
				parts = append(parts, fmt.Sprintf("%s ×%.1f", k, s.byName[k]))
			}
			p("| %s | %d | %.1f | %.1f | %s |\n", s.name, s.messages, s.roundTrips, s.commands, strings.Join(parts, ", "))
		}
		p("\n")
	}
	bs := r.batches
	p("### Desk batches seen by the simulator\n\n")
	p("%d Messages payloads (%d redelivered), %d events, %d agent texts; %d payloads carried more than one event (largest %d), %d more than one agent text. Under the Django original's rule (keep the last event of a batch) %d events, %d of them agent texts, would have been dropped.\n\n",
		bs.Payloads, bs.Redeliveries, bs.Events, bs.ChatMessages, bs.MultiEvent, bs.MaxEventsInPayload, bs.MultiChatMessage, bs.SeedLostEvents, bs.SeedLostChatMsgs)

	p("### Goals\n\n| goal | measured | |\n|---|---|---|\n")
	top := last(r.levels)
	sustained := top.level > 0 && top.ended == 0 && top.established == top.level && top.lat.lostPush == 0
	p("| 10,000 open chats on one instance | %d chats open and polled, bridge %.0f%% of one core, RSS %s | %s |\n",
		top.established, top.steady.bridgeCPU, harness.MiB(top.steady.bridgeRSS), verdict(sustained && top.level >= 10000))
	rssPer := float64(top.steady.bridgeRSS-r.baseline.RSS) / float64(max(top.level, 1)) / 1024
	p("| ≤ 64 KiB RSS per open chat | %.1f KiB at %d chats | %s |\n", rssPer, top.level, verdict(rssPer <= 64))
	worst := time.Duration(0)
	for _, l := range r.levels {
		worst = max(worst, l.lat.pushNet.P99, l.lat.pullNet.P99)
	}
	p("| relay p99 ≤ 20 ms beyond the simulator | worst p99 %s (LINE or /messages, any level) | %s |\n", harness.Ms(worst), verdict(worst > 0 && worst <= 20*time.Millisecond))
	var bestSend float64
	for _, l := range r.levels {
		bestSend = max(bestSend, l.send.rps)
	}
	p("| /send ≥ 5,000 req/s on 2 cores | %.0f req/s | %s |\n", bestSend, verdict(bestSend >= 5000))
	if r.rt != nil && len(r.rt.scenarios) > 0 {
		s := r.rt.scenarios[0]
		p("| ≤ 2 Redis round trips per relayed message | %.1f (agent → LINE) | %s |\n", s.roundTrips, verdict(s.roundTrips <= 2))
	}
	for _, l := range r.levels {
		if l.relay.delivered > 0 {
			p("| CPU per 1,000 messages (no goal) | agent → LINE %s, /send → agent %s (bridge process, at %d chats) | |\n",
				l.relay.cpuPer1k.Round(time.Millisecond), l.send.cpuPer1k.Round(time.Millisecond), l.level)
		}
	}
	p("\n")
	for _, pr := range r.profiles {
		p("### Profile: %s\n\n`%s`\n\n```\n%s```\n\n", pr.title, pr.path, trimTop(pr.top))
	}
	return b.String()
}

func last(ls []levelResult) levelResult {
	if len(ls) == 0 {
		return levelResult{}
	}
	return ls[len(ls)-1]
}

func redact(u string) string {
	if i := strings.Index(u, "@"); i >= 0 {
		if j := strings.Index(u, "://"); j >= 0 && j < i {
			return u[:j+3] + "***" + u[i:]
		}
	}
	return u
}

// trimTop keeps pprof's header and table.
func trimTop(s string) string {
	lines := strings.Split(s, "\n")
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, "File:") || strings.HasPrefix(l, "Build ID:") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}
