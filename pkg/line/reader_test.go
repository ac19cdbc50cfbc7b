package line

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
	"github.com/line-sf-bridge/bridge/pkg/line/linesim"
)

func TestReadMarker(t *testing.T) {
	sim, url := newSim(t)
	m, err := NewReadMarker(Config{ChannelToken: testToken, APIBaseURL: url, HTTPTimeout: 2 * time.Second}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != "line_read" {
		t.Errorf("name %q", m.Name())
	}
	msg := func(tok string) bridge.Event {
		return bridge.Event{Kind: bridge.KindCustomerMessage, Text: "x", ReadToken: tok}
	}
	if m.Accepts(msg("")) || !m.Accepts(msg("t")) || m.Accepts(bridge.Event{Kind: bridge.KindAgentMessage, ReadToken: "t"}) {
		t.Error("Accepts wrong")
	}
	evs := []bridge.Event{msg("t1"), msg("t2"), msg("t3")}
	if n := m.Batch(evs); n != 3 {
		t.Errorf("Batch = %d", n)
	}
	if err := m.Deliver(t.Context(), delivery("", evs...)); err != nil {
		t.Fatal(err)
	}
	snap := sim.Snapshot()
	if len(snap.Reads) != 1 || snap.Reads[0].Token != "t3" {
		t.Errorf("reads %+v, want only the last token", snap.Reads)
	}

	sim.Fail(linesim.MarkAsRead, 1, linesim.Failure{Status: 503})
	if err := m.Deliver(t.Context(), delivery("", msg("t4"))); err == nil || errors.Is(err, bridge.ErrPermanent) {
		t.Errorf("503: %v, want retryable", err)
	}
	sim.Fail(linesim.MarkAsRead, 1, linesim.Failure{Status: 400})
	if err := m.Deliver(t.Context(), delivery("", msg("t5"))); !errors.Is(err, bridge.ErrPermanent) {
		t.Errorf("400: %v, want permanent", err)
	}
	if err := m.Deliver(t.Context(), delivery("", msg("t6"))); err != nil {
		t.Fatal(err)
	}
	var toks []string
	for _, r := range sim.Snapshot().Reads {
		toks = append(toks, r.Token)
	}
	// Failures injected before acceptance record nothing.
	if want := []string{"t3", "t6"}; !slices.Equal(toks, want) {
		t.Errorf("tokens %q, want %q", toks, want)
	}
}
