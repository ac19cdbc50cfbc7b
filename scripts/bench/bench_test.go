package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// TestBenchSmoke runs every phase of the benchmark at toy sizes: the
// harness works, the report renders, and the bridge relays what it is
// given. The figures themselves are not checked.
func TestBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("benchmark smoke run: skipped with -short")
	}
	cfg := benchConfig{
		levels: []int{10, 30}, hold: 2 * time.Second, pollTimeout: time.Minute, settle: 200 * time.Millisecond,
		window: time.Second, openConc: 8, latRounds: 1, latPerRound: 10, loadAt: []int{30},
		relayRate: 100, relayDur: time.Second, sendClients: 4, sendDur: time.Second, rtChats: 3, rtMsgs: 5,
		redis: "spawn", bridgeMode: "binary", out: t.TempDir(), quick: true,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rep, err := run(ctx, cfg, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	md := rep.markdown()
	t.Log("\n" + md)
	for _, l := range rep.levels {
		if l.established != l.level || l.lat.lostPush != 0 || l.lat.lostPull != 0 {
			t.Errorf("level %d: %d established, %d/%d latency samples lost", l.level, l.established, l.lat.lostPush, l.lat.lostPull)
		}
		if l.relay.sent != l.relay.delivered || l.send.ok != l.send.delivered {
			t.Errorf("level %d: relay %d/%d, send %d/%d delivered", l.level, l.relay.delivered, l.relay.sent, l.send.delivered, l.send.ok)
		}
	}
	if rep.rt == nil || len(rep.rt.scenarios) != 3 {
		t.Errorf("round-trip phase incomplete: %+v", rep.rt)
	}
	if !strings.Contains(md, "### Goals") {
		t.Error("report has no goals table")
	}
}
